package admincmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// NewCmdRooms returns `voicectl rooms` with list, show and close.
func NewCmdRooms(f *cmdutil.Factory, runF func(*Options, []string) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rooms <command>",
		Short: "List, inspect and close rooms",
	}
	list := newAdminCmd(f, &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List rooms (of a server, or with --api of the whole cluster with each room's server)",
		Args: cobra.NoArgs}, runF, roomsListRun)
	listOpts := &Options{}
	addAPIFlags(f, list, listOpts)
	serverRun := list.RunE
	list.RunE = func(c *cobra.Command, a []string) error {
		if listOpts.UseAPI() {
			if runF != nil {
				return runF(listOpts, a)
			}
			out, _ := c.Flags().GetString("output")
			listOpts.IO, listOpts.Now, listOpts.Output = f.IO, f.Now, out
			if err := cmdutil.CheckFormat(out); err != nil {
				return err
			}
			return clusterRoomsRun(listOpts)
		}
		return serverRun(c, a)
	}
	cmd.AddCommand(
		list,
		newAdminCmd(f, &cobra.Command{Use: "show ROOM", Short: "Show a room: its routers, peers and pipes", Args: cobra.ExactArgs(1)}, runF, roomsShowRun),
		newAdminCmd(f, &cobra.Command{Use: "close ROOM", Short: "Close a room: every peer is removed", Args: cobra.ExactArgs(1)}, runF, roomsCloseRun),
		newCmdRoomsMove(f, runF),
	)
	return cmd
}

func clusterRoomsRun(o *Options) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	rooms, err := c.ClusterRooms(cx)
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, rooms)
	}
	rows := make([][]string, 0, len(rooms))
	for _, r := range rooms {
		rows = append(rows, []string{r.Room, r.Server, r.ServerState, r.SignalURL, fmt.Sprint(r.Moves), age(o.Now(), r.CreatedAt)})
	}
	return cmdutil.PrintTable(o.IO, []string{"room", "server", "state", "url", "moves", "age"}, rows)
}

func roomsListRun(o *Options, _ []string) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	rooms, err := c.Rooms(cx)
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, rooms)
	}
	rows := make([][]string, 0, len(rooms))
	for _, r := range rooms {
		rows = append(rows, []string{r.ID, fmt.Sprint(r.Peers), fmt.Sprint(r.Publishers), admin.RouterWorkers(r.Routers),
			fmt.Sprint(r.Pipes), fmt.Sprint(len(r.Speakers)), age(o.Now(), r.CreatedAt)})
	}
	return cmdutil.PrintTable(o.IO, []string{"room", "peers", "publishers", "workers", "pipes", "speaking", "age"}, rows)
}

func roomsShowRun(o *Options, args []string) error {
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
		return cmdutil.PrintData(o.IO.Out, o.Output, r)
	}
	speaking := map[string]bool{}
	for _, s := range r.Speakers {
		speaking[s.PeerID] = true
	}
	out := o.IO.Out
	fmt.Fprintf(out, "Room %s: peers %d, publishers %d, routers on workers %s, pipes %d\n\n", r.ID, r.Peers, r.Publishers, admin.RouterWorkers(r.Routers), r.Pipes)
	rows := make([][]string, 0, len(r.PeerList))
	for _, p := range r.PeerList {
		rows = append(rows, peerRow(o, p, speaking[p.ID]))
	}
	if err := cmdutil.PrintTable(o.IO, peerHeader, rows); err != nil {
		return err
	}
	if len(r.PipeList) > 0 {
		fmt.Fprintln(out)
		return cmdutil.PrintTable(o.IO, pipeHeader, pipeRows(r.PipeList))
	}
	return nil
}

func roomsCloseRun(o *Options, args []string) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	res, err := c.CloseRoom(cx, args[0])
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, res)
	}
	_, err = fmt.Fprintln(o.IO.Out, res.Message)
	return err
}
