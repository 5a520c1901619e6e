package loadgencmd

import (
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
)

// NewCmdFloor returns the hidden `voicectl loadgen floor`, the raw sendmmsg cost
// that `make bench` compares the forwarding path with.
func NewCmdFloor(f *cmdutil.Factory) *cobra.Command {
	var packets, size, dests, batch int
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
			r, err := loadgen.Floor(packets, size, dests, batch)
			if err != nil {
				return err
			}
			if output != cmdutil.FormatTable {
				return cmdutil.PrintData(f.IO.Out, output, r)
			}
			return cmdutil.PrintTable(f.IO, []string{"metric", "value"}, reportRows(r))
		},
	}
	cmd.Flags().IntVar(&packets, "packets", 200000, "packets to send")
	cmd.Flags().IntVar(&size, "size", 110, "bytes per packet")
	cmd.Flags().IntVar(&dests, "destinations", 200, "loopback sockets to send to, round robin")
	cmd.Flags().IntVar(&batch, "batch", 128, "packets per sendmmsg")
	cmdutil.AddOutputFlag(cmd, &output)
	return cmd
}
