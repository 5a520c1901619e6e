package admincmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// RoomsShowOptions are the inputs of `voicectl rooms show ROOM`.
type RoomsShowOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	Now    func() time.Time
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
	Room   string
}

// NewCmdRoomsShow returns `voicectl rooms show ROOM`; runF replaces roomsShowRun in tests.
func NewCmdRoomsShow(f *cmdutil.Factory, runF func(*RoomsShowOptions) error) *cobra.Command {
	opts := &RoomsShowOptions{IO: f.IO, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "show ROOM",
		Short: "Show a room: its routers, peers and pipes",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			opts.Room = args[0]
			if runF != nil {
				return runF(opts)
			}
			return roomsShowRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func roomsShowRun(opts *RoomsShowOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	r, err := c.Room(cx, opts.Room)
	if err != nil {
		return err
	}
	return cmdutil.PrintItem(opts.IO, opts.Output, r, func() error {
		out := opts.IO.Out
		fmt.Fprintf(out, "Room %s: peers %d, publishers %d, routers on workers %s, pipes %d\n\n", r.ID, r.Peers, r.Publishers, admin.RouterWorkers(r.Routers), r.Pipes)
		if err := cmdutil.PrintColumns(opts.IO, r.PeerList, peerColumns(opts.Now(), r.Speakers)); err != nil {
			return err
		}
		if len(r.PipeList) > 0 {
			fmt.Fprintln(out)
			return cmdutil.PrintColumns(opts.IO, r.PipeList, pipeColumns)
		}
		return nil
	})
}
