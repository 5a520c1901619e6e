package admincmd

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// Each NewCmdX with a runF: what the command line puts in its Options.

func testFactory() *cmdutil.Factory {
	return &cmdutil.Factory{
		IO: &cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}},
		Environ: func() []string {
			return []string{"VOICECTL_AUTH_ADMIN_KEY=admin-k", "VOICECTL_AUTH_API_KEY=api-k"}
		},
		HTTPClient: func() *http.Client { return &http.Client{} },
		Now:        func() time.Time { return t0 },
	}
}

func execute(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.Execute()
}

// client calls connect and requires a client for baseURL with key.
func client(t *testing.T, connect func() (*admin.Client, error), baseURL, key string) {
	t.Helper()
	require.NotNil(t, connect)
	c, err := connect()
	require.NoError(t, err)
	require.Equal(t, baseURL, c.BaseURL)
	require.Equal(t, key, c.Key)
}

func TestWorkersAndPipesFlags(t *testing.T) {
	var w *WorkersOptions
	require.NoError(t, execute(t, NewCmdWorkers(testFactory(), func(o *WorkersOptions) error { w = o; return nil }), "-o", "yaml", "--server", "http://10.0.0.5:7880"))
	require.Equal(t, cmdutil.FormatYAML, w.Output)
	client(t, w.Client, "http://10.0.0.5:7880", "admin-k")

	var p *PipesOptions
	require.NoError(t, execute(t, NewCmdPipes(testFactory(), func(o *PipesOptions) error { p = o; return nil }), "--admin-key", "flag-k"))
	require.Equal(t, cmdutil.FormatTable, p.Output)
	client(t, p.Client, "http://127.0.0.1:7880", "flag-k")

	err := execute(t, NewCmdPipes(testFactory(), func(*PipesOptions) error { t.Fatal("runF with a bad --output"); return nil }), "-o", "csv")
	require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(err))
}

func TestPeersFlags(t *testing.T) {
	var l *PeersOptions
	require.NoError(t, execute(t, NewCmdPeers(testFactory(), func(o *PeersOptions) error { l = o; return nil }), "standup", "-o", "json"))
	require.Equal(t, "standup", l.Room)
	require.Equal(t, cmdutil.FormatJSON, l.Output)
	require.Equal(t, t0, l.Now())

	var k *PeersKickOptions
	require.NoError(t, execute(t, NewCmdPeersKick(testFactory(), func(o *PeersKickOptions) error { k = o; return nil }), "standup", "bob"))
	require.Equal(t, "standup", k.Room)
	require.Equal(t, "bob", k.Peer)

	var m *PeersMuteOptions
	require.NoError(t, execute(t, NewCmdPeersMute(testFactory(), func(o *PeersMuteOptions) error { m = o; return nil }), "standup", "bob"))
	require.False(t, m.Unmute)
	require.NoError(t, execute(t, NewCmdPeersMute(testFactory(), func(o *PeersMuteOptions) error { m = o; return nil }), "standup", "PA_2", "--unmute"))
	require.True(t, m.Unmute)
	require.Equal(t, "PA_2", m.Peer)

	require.Error(t, execute(t, NewCmdPeersMute(testFactory(), func(*PeersMuteOptions) error { return nil }), "standup"), "two arguments")
}

func TestRoomsFlags(t *testing.T) {
	var l *RoomsListOptions
	require.NoError(t, execute(t, NewCmdRoomsList(testFactory(), func(o *RoomsListOptions) error { l = o; return nil })))
	require.False(t, l.Cluster)
	client(t, l.Client, "http://127.0.0.1:7880", "admin-k")
	require.NoError(t, execute(t, NewCmdRoomsList(testFactory(), func(o *RoomsListOptions) error { l = o; return nil }), "--api", "http://api.test:7870", "--api-key", "k2"))
	require.True(t, l.Cluster, "--api: the cluster's rooms")
	client(t, l.APIClient, "http://api.test:7870", "k2")

	var s *RoomsShowOptions
	require.NoError(t, execute(t, NewCmdRoomsShow(testFactory(), func(o *RoomsShowOptions) error { s = o; return nil }), "standup"))
	require.Equal(t, "standup", s.Room)

	var c *RoomsCloseOptions
	require.NoError(t, execute(t, NewCmdRoomsClose(testFactory(), func(o *RoomsCloseOptions) error { c = o; return nil }), "standup", "-o", "json"))
	require.Equal(t, "standup", c.Room)
	require.Equal(t, cmdutil.FormatJSON, c.Output)

	var m *RoomsMoveOptions
	require.NoError(t, execute(t, NewCmdRoomsMove(testFactory(), func(o *RoomsMoveOptions) error { m = o; return nil }), "standup", "--to", "S2"))
	require.Equal(t, "standup", m.Room)
	require.Equal(t, "S2", m.To)
	client(t, m.APIClient, "http://127.0.0.1:7870", "api-k")
}

func TestServersFlags(t *testing.T) {
	var l *ServersOptions
	require.NoError(t, execute(t, NewCmdServers(testFactory(), func(o *ServersOptions) error { l = o; return nil }), "-o", "json"))
	require.Equal(t, cmdutil.FormatJSON, l.Output)
	client(t, l.APIClient, "http://127.0.0.1:7870", "api-k")

	var d *ServersDrainOptions
	drain := func() *cobra.Command {
		return NewCmdServersDrain(testFactory(), func(o *ServersDrainOptions) error { d = o; return nil })
	}
	require.NoError(t, execute(t, drain(), "S1", "--deadline", "5m"))
	require.Equal(t, "S1", d.ID)
	require.Equal(t, 5*time.Minute, d.Deadline)
	require.False(t, d.Self)
	require.NoError(t, execute(t, drain(), "--self", "--server", "http://10.0.0.9:7880"))
	require.True(t, d.Self)
	require.Empty(t, d.ID)
	client(t, d.Client, "http://10.0.0.9:7880", "admin-k")
	for _, args := range [][]string{{}, {"S1", "--self"}, {"S1", "S2"}, {"S1", "--deadline", "-1s"}} {
		require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(execute(t, drain(), args...)), "%v", args)
	}

	var r *ServersRestartOptions
	restart := func() *cobra.Command {
		return NewCmdServersRestart(testFactory(), func(o *ServersRestartOptions) error { r = o; return nil })
	}
	require.NoError(t, execute(t, restart(), "--rolling", "S2", "S1", "--deadline", "1m"))
	require.Equal(t, []string{"S2", "S1"}, r.IDs)
	require.Equal(t, time.Minute, r.Deadline)
	require.Equal(t, 3*time.Minute, r.Wait, "the default")
	require.True(t, r.Rolling)
	for _, args := range [][]string{{"--rolling=false"}, {"--wait", "0"}, {"--deadline", "-1s"}} {
		require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(execute(t, restart(), args...)), "%v", args)
	}
}

func TestDashboardFlags(t *testing.T) {
	var d *DashboardOptions
	dash := func() *cobra.Command {
		return NewCmdDashboard(testFactory(), func(o *DashboardOptions) error { d = o; return nil })
	}
	require.NoError(t, execute(t, dash()))
	require.False(t, d.Cluster)
	require.Equal(t, time.Second, d.Refresh)
	client(t, d.Client, "http://127.0.0.1:7880", "admin-k")
	require.NoError(t, execute(t, dash(), "--api", "http://api.test:7870", "--refresh", "250ms"))
	require.True(t, d.Cluster)
	require.Equal(t, 250*time.Millisecond, d.Refresh)
	client(t, d.APIClient, "http://api.test:7870", "api-k")
	require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(execute(t, dash(), "--refresh", "10ms")))
}
