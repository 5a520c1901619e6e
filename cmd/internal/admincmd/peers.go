package admincmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/wire"
)

// PeersOptions are the inputs of `voicectl peers ROOM`.
type PeersOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	Now    func() time.Time
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
	Room   string
}

// NewCmdPeers returns `voicectl peers ROOM` with kick and mute; runF replaces
// peersRun in tests.
func NewCmdPeers(f *cmdutil.Factory, runF func(*PeersOptions) error) *cobra.Command {
	opts := &PeersOptions{IO: f.IO, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "peers ROOM",
		Short:   "List a room's peers; kick or mute one",
		Example: "  voicectl peers standup\n  voicectl peers kick standup alice\n  voicectl peers mute standup PA_1f2e --unmute",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			opts.Room = args[0]
			if runF != nil {
				return runF(opts)
			}
			return peersRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	cmd.AddCommand(NewCmdPeersKick(f, nil), NewCmdPeersMute(f, nil))
	return cmd
}

func peersRun(opts *PeersOptions) error {
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
	return cmdutil.PrintList(opts.IO, opts.Output, r.PeerList, peerColumns(opts.Now(), r.Speakers))
}

// peerColumns are a room's peers as `peers` and `rooms show` list them: now
// dates their joins and speakers says who is speaking.
func peerColumns(now time.Time, speakers []wire.Speaker) []cmdutil.Column[wire.AdminPeer] {
	speaking := make(map[string]bool, len(speakers))
	for _, s := range speakers {
		speaking[s.PeerID] = true
	}
	return []cmdutil.Column[wire.AdminPeer]{
		{Header: "peer", Cell: func(p wire.AdminPeer) string { return p.ID }},
		{Header: "identity", Cell: func(p wire.AdminPeer) string { return p.Identity }},
		{Header: "worker", Cell: func(p wire.AdminPeer) string {
			if p.Server != "" { // its media is on a relay
				return admin.ShortID(p.Server) + "/" + fmt.Sprint(p.Worker)
			}
			return fmt.Sprint(p.Worker)
		}},
		{Header: "publishing", Cell: func(p wire.AdminPeer) string { return admin.YesNo(p.Publishing) }},
		{Header: "muted", Cell: func(p wire.AdminPeer) string { return admin.YesNo(p.Muted) }},
		{Header: "speaking", Cell: func(p wire.AdminPeer) string { return admin.YesNo(speaking[p.ID]) }},
		{Header: "joined", Cell: func(p wire.AdminPeer) string { return age(now, p.JoinedAt) }},
		{Header: "path", Cell: func(p wire.AdminPeer) string { return orDash(p.Path) }},
		{Header: "remote", Cell: func(p wire.AdminPeer) string { return orDash(p.RemoteAddress) }},
		{Header: "loss", Cell: func(p wire.AdminPeer) string { l, _, _, _ := admin.QualityCells(p); return l }},
		{Header: "jitter", Cell: func(p wire.AdminPeer) string { _, j, _, _ := admin.QualityCells(p); return j }},
		{Header: "rtt", Cell: func(p wire.AdminPeer) string { _, _, r, _ := admin.QualityCells(p); return r }},
		{Header: "quality", Cell: func(p wire.AdminPeer) string { _, _, _, q := admin.QualityCells(p); return q }},
	}
}

// orDash shows an empty cell (a peer whose media has not connected yet) as
// "-", so that plain output keeps a value in every column.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printResult writes an action's result: its message, or -o json|yaml the whole.
func printResult(ios *cmdutil.IOStreams, format string, res wire.AdminResult) error {
	return cmdutil.PrintItem(ios, format, res, func() error {
		_, err := fmt.Fprintln(ios.Out, res.Message)
		return err
	})
}
