package admincmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// newCmdRoomsMove is `voicectl rooms move ROOM [--to SERVER]`, through the
// cluster API: the room's peers are sent to its new home.
func newCmdRoomsMove(f *cmdutil.Factory, runF func(*Options, []string) error) *cobra.Command {
	opts := &Options{IO: f.IO, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "move ROOM",
		Short:   "Move a room to another server (the cluster API): its peers rejoin there",
		Example: "  voicectl rooms move standup --to 6f1c2a3b-0000-4000-8000-000000000001\n  voicectl rooms move standup   # the API picks the freest server",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts, a)
			}
			return roomsMoveRun(opts, a)
		},
	}
	cmd.Flags().StringVar(&opts.MoveTo, "to", "", "the server id to move the room to (default: the API picks the least stressed)")
	addAPIFlags(f, cmd, opts)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func roomsMoveRun(o *Options, args []string) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	r, err := c.MoveRoom(cx, args[0], o.MoveTo)
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, r)
	}
	fmt.Fprintf(o.IO.Out, "room %s moved to %s (%s), move %d\n", r.Room, r.Server, r.SignalURL, r.Moves)
	return nil
}
