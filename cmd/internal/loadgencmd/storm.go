package loadgencmd

import (
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
)

// StormOptions are the inputs of `loadgen storm`.
type StormOptions struct {
	IO       *cmdutil.IOStreams
	Scenario loadgen.StormScenario
	Output   string
}

// NewCmdStorm returns `voicectl loadgen storm`: many listeners joining running
// rooms at once, timing the joins and the rooms' longest audio gap meanwhile.
func NewCmdStorm(f *cmdutil.Factory, runF func(*StormOptions) error) *cobra.Command {
	opts := &StormOptions{IO: f.IO}
	var t target
	sc := loadgen.DefaultStorm()
	cmd := &cobra.Command{
		Use:     "storm",
		Short:   "Join a burst of listeners into running rooms: joins per second, join p50/p99, longest audio gap of the rooms meanwhile",
		Example: "  voicectl loadgen storm --rooms 10 --storm-listeners 1000 --concurrency 64 -o json",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if err := t.resolve(f, c.Flags(), &sc.Scenario); err != nil {
				return err
			}
			opts.Scenario = sc
			if err := opts.Scenario.Validate(); err != nil {
				return &cmdutil.UsageError{Err: err}
			}
			if runF != nil {
				return runF(opts)
			}
			return runStorm(opts)
		},
	}
	fl := cmd.Flags()
	addTargetFlags(fl, &t)
	fl.IntVar(&sc.Rooms, "rooms", sc.Rooms, "running rooms (one publisher each)")
	fl.IntVar(&sc.Witnesses, "witnesses", sc.Witnesses, "listeners per room that time the audio gaps from before the storm")
	fl.IntVar(&sc.StormListeners, "storm-listeners", sc.StormListeners, "listeners that join during the storm, spread over the rooms")
	fl.IntVar(&sc.Concurrency, "concurrency", sc.Concurrency, "joins in flight at once")
	fl.BoolVar(&sc.LoopbackOnly, "loopback-only", false, "restrict ICE to loopback addresses (a server URL on loopback does it by itself)")
	fl.StringVar(&sc.RoomPrefix, "room-prefix", sc.RoomPrefix, "room name prefix")
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func runStorm(o *StormOptions) error {
	ctx, cancel := signalContext()
	defer cancel()
	r, err := loadgen.Storm(ctx, o.Scenario, nil)
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, r)
	}
	return cmdutil.PrintTable(o.IO, []string{"metric", "value"}, reportRows(r))
}
