package admincmd

import (
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// PeersKickOptions are the inputs of `voicectl peers kick ROOM PEER`.
type PeersKickOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
	Room   string
	// Peer is the peer's id or identity.
	Peer string
}

// NewCmdPeersKick returns `voicectl peers kick ROOM PEER`; runF replaces
// peersKickRun in tests.
func NewCmdPeersKick(f *cmdutil.Factory, runF func(*PeersKickOptions) error) *cobra.Command {
	opts := &PeersKickOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "kick ROOM PEER",
		Short: "Remove a peer (by id or identity) from a room",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			opts.Room, opts.Peer = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return peersKickRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func peersKickRun(opts *PeersKickOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	res, err := c.Kick(cx, opts.Room, opts.Peer)
	if err != nil {
		return err
	}
	return printResult(opts.IO, opts.Output, res)
}
