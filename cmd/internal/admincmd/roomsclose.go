package admincmd

import (
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// RoomsCloseOptions are the inputs of `voicectl rooms close ROOM`.
type RoomsCloseOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
	Room   string
}

// NewCmdRoomsClose returns `voicectl rooms close ROOM`; runF replaces
// roomsCloseRun in tests.
func NewCmdRoomsClose(f *cmdutil.Factory, runF func(*RoomsCloseOptions) error) *cobra.Command {
	opts := &RoomsCloseOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "close ROOM",
		Short: "Close a room: every peer is removed",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			opts.Room = args[0]
			if runF != nil {
				return runF(opts)
			}
			return roomsCloseRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func roomsCloseRun(opts *RoomsCloseOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	res, err := c.CloseRoom(cx, opts.Room)
	if err != nil {
		return err
	}
	return printResult(opts.IO, opts.Output, res)
}
