package admincmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/wire"
)

// NewCmdPeers returns `voicectl peers ROOM` with kick and mute.
func NewCmdPeers(f *cmdutil.Factory, runF func(*Options, []string) error) *cobra.Command {
	cmd := newAdminCmd(f, &cobra.Command{
		Use:     "peers ROOM",
		Short:   "List a room's peers; kick or mute one",
		Example: "  voicectl peers standup\n  voicectl peers kick standup alice\n  voicectl peers mute standup PA_1f2e --unmute",
		Args:    cobra.ExactArgs(1),
	}, runF, peersListRun)

	cmd.AddCommand(newAdminCmd(f, &cobra.Command{Use: "kick ROOM PEER", Short: "Remove a peer (by id or identity) from a room", Args: cobra.ExactArgs(2)}, runF, peersKickRun))
	var unmute bool
	mute := newAdminCmd(f, &cobra.Command{Use: "mute ROOM PEER", Short: "Mute (or --unmute) a peer's microphone", Args: cobra.ExactArgs(2)}, runF, func(o *Options, a []string) error {
		return peersMuteRun(o, a, !unmute)
	})
	mute.Flags().BoolVar(&unmute, "unmute", false, "unmute instead")
	cmd.AddCommand(mute)
	return cmd
}

var peerHeader = []string{"peer", "identity", "worker", "publishing", "muted", "speaking", "joined"}

func peerRow(o *Options, p wire.AdminPeer, speaking bool) []string {
	worker := fmt.Sprint(p.Worker)
	if p.Server != "" { // its media is on a relay
		worker = admin.ShortID(p.Server) + "/" + worker
	}
	return []string{p.ID, p.Identity, worker, admin.YesNo(p.Publishing), admin.YesNo(p.Muted), admin.YesNo(speaking), age(o.Now(), p.JoinedAt)}
}

func peersListRun(o *Options, args []string) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	r, err := c.Room(cx, args[0])
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, r.PeerList)
	}
	speaking := map[string]bool{}
	for _, s := range r.Speakers {
		speaking[s.PeerID] = true
	}
	rows := make([][]string, 0, len(r.PeerList))
	for _, p := range r.PeerList {
		rows = append(rows, peerRow(o, p, speaking[p.ID]))
	}
	return cmdutil.PrintTable(o.IO, peerHeader, rows)
}

func printResult(o *Options, res wire.AdminResult) error {
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, res)
	}
	_, err := fmt.Fprintln(o.IO.Out, res.Message)
	return err
}

func peersKickRun(o *Options, args []string) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	res, err := c.Kick(cx, args[0], args[1])
	if err != nil {
		return err
	}
	return printResult(o, res)
}

func peersMuteRun(o *Options, args []string, muted bool) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	res, err := c.Mute(cx, args[0], args[1], muted)
	if err != nil {
		return err
	}
	return printResult(o, res)
}
