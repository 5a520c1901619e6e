package loadgencmd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
)

// NewCmdFloor returns the hidden `voicectl loadgen floor`, the raw sendmmsg cost
// that `make bench` compares the forwarding path with.
func NewCmdFloor(f *cmdutil.Factory) *cobra.Command {
	p := loadgen.FloorParams{}
	var output string
	cmd := &cobra.Command{
		Use:    "floor",
		Short:  "Measure raw sendmmsg cost per packet on loopback (the forwarding floor)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := cmdutil.CheckFormat(output); err != nil {
				return err
			}
			r, err := loadgen.Floor(p)
			if err != nil {
				return err
			}
			if output != cmdutil.FormatTable {
				return cmdutil.PrintData(f.IO.Out, output, r)
			}
			return cmdutil.PrintTable(f.IO, []string{"metric", "value"}, reportRows(r))
		},
	}
	cmd.Flags().IntVar(&p.Packets, "packets", 200000, "packets to send")
	cmd.Flags().IntVar(&p.Size, "size", 110, "bytes per packet")
	cmd.Flags().IntVar(&p.Destinations, "destinations", 200, "loopback sockets to send to, round robin")
	cmd.Flags().IntVar(&p.Batch, "batch", 128, "packets per sendmmsg when sending back to back")
	cmd.Flags().DurationVar(&p.BurstInterval, "burst-interval", 0, "send one packet to every destination this often, as a worker's fan-out (0: back to back)")
	cmd.Flags().DurationVar(&p.ReadPacing, "read-pacing", 200*time.Millisecond, "how often the destinations read, as load-generator listeners")
	cmdutil.AddOutputFlag(cmd, &output)
	return cmd
}
