package admincmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// RoomsMoveOptions are the inputs of `voicectl rooms move ROOM [--to SERVER]`.
type RoomsMoveOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	// APIClient connects to the cluster API.
	APIClient func() (*admin.Client, error)
	Room      string
	// To is --to: the server id to move to; empty lets the API pick.
	To string
}

// NewCmdRoomsMove is `voicectl rooms move ROOM [--to SERVER]`, through the
// cluster API: the room's peers are sent to its new home. runF replaces
// roomsMoveRun in tests.
func NewCmdRoomsMove(f *cmdutil.Factory, runF func(*RoomsMoveOptions) error) *cobra.Command {
	opts := &RoomsMoveOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "move ROOM",
		Short:   "Move a room to another server (the cluster API): its peers rejoin there",
		Example: "  voicectl rooms move standup --to 6f1c2a3b-0000-4000-8000-000000000001\n  voicectl rooms move standup   # the API picks the freest server",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			opts.Room = args[0]
			if runF != nil {
				return runF(opts)
			}
			return roomsMoveRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "the server id to move the room to (default: the API picks the least stressed)")
	opts.APIClient = addAPIFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func roomsMoveRun(opts *RoomsMoveOptions) error {
	c, err := opts.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	r, err := c.MoveRoom(cx, opts.Room, opts.To)
	if err != nil {
		return err
	}
	return cmdutil.PrintItem(opts.IO, opts.Output, r, func() error {
		_, err := fmt.Fprintf(opts.IO.Out, "room %s moved to %s (%s), move %d\n", r.Room, r.Server, r.SignalURL, r.Moves)
		return err
	})
}
