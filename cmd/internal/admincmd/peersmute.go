package admincmd

import (
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// PeersMuteOptions are the inputs of `voicectl peers mute ROOM PEER [--unmute]`.
type PeersMuteOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
	Room   string
	// Peer is the peer's id or identity.
	Peer string
	// Unmute is --unmute: unmute instead of mute.
	Unmute bool
}

// NewCmdPeersMute returns `voicectl peers mute ROOM PEER`; runF replaces
// peersMuteRun in tests.
func NewCmdPeersMute(f *cmdutil.Factory, runF func(*PeersMuteOptions) error) *cobra.Command {
	opts := &PeersMuteOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "mute ROOM PEER",
		Short: "Mute (or --unmute) a peer's microphone",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			opts.Room, opts.Peer = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return peersMuteRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	cmd.Flags().BoolVar(&opts.Unmute, "unmute", false, "unmute instead")
	return cmd
}

func peersMuteRun(opts *PeersMuteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	res, err := c.Mute(cx, opts.Room, opts.Peer, !opts.Unmute)
	if err != nil {
		return err
	}
	return printResult(opts.IO, opts.Output, res)
}
