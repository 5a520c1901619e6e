package admincmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// ServersOptions are the inputs of `voicectl servers`.
type ServersOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	Now    func() time.Time
	// APIClient connects to the cluster API.
	APIClient func() (*admin.Client, error)
}

// NewCmdServers returns `voicectl servers`: the cluster's servers, from the
// API's registry, with drain and restart; runF replaces serversRun in tests.
func NewCmdServers(f *cmdutil.Factory, runF func(*ServersOptions) error) *cobra.Command {
	opts := &ServersOptions{IO: f.IO, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "servers",
		Short:   "List the cluster's servers (from voicectl api): state, rooms, peers, stress per worker, heartbeat age",
		Example: "  voicectl servers --api http://127.0.0.1:7870 --api-key $VOICECTL_AUTH_API_KEY\n  voicectl servers -o json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return serversRun(opts)
		},
	}
	opts.APIClient = addAPIFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	cmd.AddCommand(NewCmdServersDrain(f, nil), NewCmdServersRestart(f, nil))
	return cmd
}

func serversRun(opts *ServersOptions) error {
	c, err := opts.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	ss, err := c.Servers(cx)
	if err != nil {
		return err
	}
	if note := apiBusNote(ss, opts.Now()); note != "" && opts.Output == cmdutil.FormatTable {
		fmt.Fprintln(opts.IO.ErrOut, note)
	}
	return cmdutil.PrintList(opts.IO, opts.Output, ss, serverColumns(opts.Now()))
}

// apiBusNote says, while the API is off the message broker, that the
// heartbeat ages are its outage's and not the servers' (empty otherwise):
// a broker outage is not a cluster of dead servers. (-o json has it as
// each server's api_bus_down_since.)
func apiBusNote(ss []wire.ClusterServer, now time.Time) string {
	for _, s := range ss {
		if !s.APIBusDownSince.IsZero() {
			return fmt.Sprintf("voicectl api is off the message broker since %s (%s ago): no heartbeat reaches it, so the ages below say nothing of the servers",
				s.APIBusDownSince.Local().Format(time.TimeOnly), age(now, s.APIBusDownSince))
		}
	}
	return ""
}

// heartbeatCell is the age of a server's last heartbeat, marked when the
// API is off the broker (the age is then the outage's), and with the age of
// its last probe answer when it is off the bus (alive: not dead yet).
func heartbeatCell(now time.Time, s wire.ClusterServer) string {
	a := age(now, s.LastSeen)
	switch {
	case !s.APIBusDownSince.IsZero():
		a += " (bus down)"
	case s.OffBus && !s.ProbeAnsweredAt.IsZero():
		a += " (probe " + age(now, s.ProbeAnsweredAt) + " ago)"
	}
	return a
}

// serverColumns are the registry's servers; now dates their last heartbeat.
func serverColumns(now time.Time) []cmdutil.Column[wire.ClusterServer] {
	return []cmdutil.Column[wire.ClusterServer]{
		{Header: "id", Cell: func(s wire.ClusterServer) string { return s.ID }},
		{Header: "url", Cell: func(s wire.ClusterServer) string { return s.SignalURL }},
		{Header: "state", Cell: serverState},
		{Header: "rooms", Cell: func(s wire.ClusterServer) string { return fmt.Sprint(s.Rooms) }},
		{Header: "peers", Cell: func(s wire.ClusterServer) string { return fmt.Sprint(s.Peers) }},
		{Header: "relayed peers/rooms", Cell: func(s wire.ClusterServer) string { return fmt.Sprintf("%d/%d", s.RelayPeers, s.RelayRooms) }},
		{Header: "stress", Cell: func(s wire.ClusterServer) string { return percent(s.Stress) }},
		{Header: "workers", Cell: func(s wire.ClusterServer) string {
			var ws []string
			for _, w := range s.Workers {
				ws = append(ws, percent(w.Stress))
			}
			return strings.Join(ws, " ")
		}},
		{Header: "new rooms", Cell: func(s wire.ClusterServer) string { return admin.YesNo(s.Accepting) }},
		{Header: "heartbeat", Cell: func(s wire.ClusterServer) string { return heartbeatCell(now, s) }},
		{Header: "version", Cell: func(s wire.ClusterServer) string { return s.Version }},
	}
}

// serverState is the registry's state, with "live (off bus)" for a server
// cut from the broker that answers the API's probe (alive, keeping its
// rooms, taking no new one) and "live (full)" for a live server that takes
// no new rooms.
func serverState(s wire.ClusterServer) string {
	state := string(s.State)
	switch {
	case s.State == cluster.ServerDead:
	case s.OffBus:
		state += " (off bus)"
	case s.State == cluster.ServerLive && !s.Accepting:
		state += " (full)"
	}
	return state
}
