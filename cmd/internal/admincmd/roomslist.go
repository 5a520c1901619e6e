package admincmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/wire"
)

// RoomsListOptions are the inputs of `voicectl rooms list [--api URL]`.
type RoomsListOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	Now    func() time.Time
	// Client connects to the server's admin API.
	Client func() (*admin.Client, error)
	// APIClient connects to the cluster API.
	APIClient func() (*admin.Client, error)
	// Cluster is set when --api was given: list the cluster's rooms, each
	// with its server, instead of one server's.
	Cluster bool
}

// NewCmdRoomsList returns `voicectl rooms list`; runF replaces roomsListRun in tests.
func NewCmdRoomsList(f *cmdutil.Factory, runF func(*RoomsListOptions) error) *cobra.Command {
	opts := &RoomsListOptions{IO: f.IO, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List rooms (of a server, or with --api of the whole cluster with each room's server)",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Cluster = c.Flags().Changed("api")
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return roomsListRun(opts)
		},
	}
	opts.Client = addConnectionFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	opts.APIClient = addAPIFlags(f, cmd)
	return cmd
}

func roomsListRun(opts *RoomsListOptions) error {
	if opts.Cluster {
		return clusterRoomsRun(opts)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	rooms, err := c.Rooms(cx)
	if err != nil {
		return err
	}
	now := opts.Now()
	return cmdutil.PrintList(opts.IO, opts.Output, rooms, []cmdutil.Column[wire.AdminRoom]{
		{Header: "room", Cell: func(r wire.AdminRoom) string { return r.ID }},
		{Header: "peers", Cell: func(r wire.AdminRoom) string { return fmt.Sprint(r.Peers) }},
		{Header: "publishers", Cell: func(r wire.AdminRoom) string { return fmt.Sprint(r.Publishers) }},
		{Header: "workers", Cell: func(r wire.AdminRoom) string { return admin.RouterWorkers(r.Routers) }},
		{Header: "pipes", Cell: func(r wire.AdminRoom) string { return fmt.Sprint(r.Pipes) }},
		{Header: "speaking", Cell: func(r wire.AdminRoom) string { return fmt.Sprint(len(r.Speakers)) }},
		{Header: "age", Cell: func(r wire.AdminRoom) string { return age(now, r.CreatedAt) }},
	})
}

// clusterRoomsRun lists the cluster API's directory of rooms.
func clusterRoomsRun(opts *RoomsListOptions) error {
	c, err := opts.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	rooms, err := c.ClusterRooms(cx)
	if err != nil {
		return err
	}
	now := opts.Now()
	return cmdutil.PrintList(opts.IO, opts.Output, rooms, []cmdutil.Column[wire.ClusterRoom]{
		{Header: "room", Cell: func(r wire.ClusterRoom) string { return r.Room }},
		{Header: "server", Cell: func(r wire.ClusterRoom) string { return r.Server }},
		{Header: "state", Cell: func(r wire.ClusterRoom) string { return string(r.ServerState) }},
		{Header: "url", Cell: func(r wire.ClusterRoom) string { return r.SignalURL }},
		{Header: "moves", Cell: func(r wire.ClusterRoom) string { return fmt.Sprint(r.Moves) }},
		{Header: "age", Cell: func(r wire.ClusterRoom) string { return age(now, r.CreatedAt) }},
	})
}
