package admincmd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// The xRun functions called with their Options only: no cobra, no terminal,
// the admin client on the in-memory fake.

// connect returns an Options' Client for api with key.
func connect(api *fakeAPI, key string) func() (*admin.Client, error) {
	return func() (*admin.Client, error) {
		c, err := admin.New("http://voice.test:7880", key)
		if err != nil {
			return nil, err
		}
		c.HTTP = &http.Client{Transport: handlerTransport{api}}
		return c, nil
	}
}

func piped() (*cmdutil.IOStreams, *bytes.Buffer) {
	var out bytes.Buffer
	return &cmdutil.IOStreams{Out: &out, ErrOut: &out}, &out
}

func lines(s string) []string {
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

func now() time.Time { return t0 }

func TestWorkersRun(t *testing.T) {
	api := &fakeAPI{}
	ios, out := piped()
	require.NoError(t, workersRun(&WorkersOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(api, "good-key")}))
	require.Equal(t, []string{"GET /admin/v1/workers"}, api.requests)
	require.Equal(t, []string{
		"0\t4101\t50000\tyes\t15\t1000\t2%\t2\t5\t4\t9\t1\t150\t550\t3.2%\t0",
		"1\t4102\t50001\tyes\t6\t1000\t1%\t1\t2\t2\t4\t1\t100\t200\t1.0%\t1",
	}, lines(out.String()))

	ios, out = piped()
	ios.IsTerminal = true
	require.NoError(t, workersRun(&WorkersOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(api, "good-key")}))
	require.Equal(t, []string{"WORKER", "PID", "PORT", "READY", "LOAD", "CAPACITY", "STRESS", "ROUTERS", "TRANSPORTS", "PRODUCERS", "CONSUMERS", "PIPES", "PPS", "IN", "PPS", "OUT", "CPU", "RESTARTS"},
		strings.Fields(lines(out.String())[0]), "a terminal gets the header")

	ios, out = piped()
	require.NoError(t, workersRun(&WorkersOptions{IO: ios, Output: cmdutil.FormatYAML, Client: connect(api, "good-key")}))
	var ws []wire.AdminWorker
	require.NoError(t, yaml.Unmarshal(out.Bytes(), &ws))
	require.Len(t, ws, 2)
	require.Equal(t, 4102, ws[1].PID)

	err := workersRun(&WorkersOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(&fakeAPI{}, "bad-key")})
	var ae *admin.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusUnauthorized, ae.Status)
}

func TestPipesRun(t *testing.T) {
	ios, out := piped()
	require.NoError(t, pipesRun(&PipesOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(&fakeAPI{}, "good-key")}))
	cells := strings.Split(strings.TrimSpace(out.String()), "\t")
	require.Len(t, cells, len(admin.PipeHeader)+1)
	require.Equal(t, "PP_1", cells[0])
	require.Equal(t, "127.0.0.1:40001 127.0.0.1:40002", cells[len(cells)-1], "the addresses, space-separated, last")

	ios, out = piped()
	require.NoError(t, pipesRun(&PipesOptions{IO: ios, Output: cmdutil.FormatJSON, Client: connect(&fakeAPI{}, "good-key")}))
	var ps []wire.AdminPipe
	require.NoError(t, json.Unmarshal(out.Bytes(), &ps))
	require.Equal(t, fixtureRoom.PipeList, ps)
}

func TestPeersRun(t *testing.T) {
	api := &fakeAPI{}
	ios, out := piped()
	require.NoError(t, peersRun(&PeersOptions{IO: ios, Output: cmdutil.FormatTable, Now: now, Client: connect(api, "good-key"), Room: "standup"}))
	require.Equal(t, []string{"GET /admin/v1/rooms/standup"}, api.requests)
	require.Equal(t, []string{
		"PA_1\talice\t0\tyes\tno\tyes\t1h\tudp\t127.0.0.1:51000\t0.0%\t2ms\t2ms\texcellent 97",
		"PA_2\tbob\t0\tyes\tyes\tno\t5m\tturn/tls\t127.0.0.1:49152\t10.2%\t12ms\t48ms\tpoor 71",
		"PA_3\tcarol\t1\tno\tno\tno\t30s\t-\t-\t-\t-\t-\t-",
	}, lines(out.String()), "the path and remote address, then loss, jitter, RTT and quality; - for a peer not connected or measured yet")

	ios, out = piped()
	require.NoError(t, peersRun(&PeersOptions{IO: ios, Output: cmdutil.FormatJSON, Now: now, Client: connect(api, "good-key"), Room: "standup"}))
	var ps []wire.AdminPeer
	require.NoError(t, json.Unmarshal(out.Bytes(), &ps))
	require.Equal(t, fixtureRoom.PeerList[2].Identity, ps[2].Identity, "-o json: the peer list, not the room")
	require.Equal(t, fixtureRoom.PeerList, ps, "-o json: every field, path and remote address included")
	var raw []map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &raw))
	require.Equal(t, "turn/tls", raw[1]["path"])
	require.Equal(t, "127.0.0.1:49152", raw[1]["remote_address"])
	require.Equal(t, "", raw[2]["path"], "-o json: a peer not connected yet has an empty path, not a dash")

	ios, out = piped()
	require.NoError(t, peersRun(&PeersOptions{IO: ios, Output: cmdutil.FormatYAML, Now: now, Client: connect(api, "good-key"), Room: "standup"}))
	var ys []map[string]any
	require.NoError(t, yaml.Unmarshal(out.Bytes(), &ys))
	require.Equal(t, "udp", ys[0]["path"])
	require.Equal(t, "127.0.0.1:51000", ys[0]["remote_address"])

	require.ErrorContains(t, peersRun(&PeersOptions{IO: ios, Output: cmdutil.FormatTable, Now: now, Client: connect(api, "good-key"), Room: "nope"}), "not found")
}

func TestPeerOnARelayShowsItsServer(t *testing.T) {
	cols := peerColumns(t0, nil)
	p := wire.AdminPeer{ID: "PA_9", Worker: 2, Server: "6f1c2a3b-0000-4000-8000-000000000002", JoinedAt: t0.Add(-3 * 24 * time.Hour)}
	ios, out := piped()
	require.NoError(t, cmdutil.PrintColumns(ios, []wire.AdminPeer{p}, cols))
	cells := strings.Split(strings.TrimSpace(out.String()), "\t")
	require.Equal(t, admin.ShortID(p.Server)+"/2", cells[2])
	require.Equal(t, "3d", cells[6])
}

func TestPeersKickAndMuteRun(t *testing.T) {
	api := &fakeAPI{}
	ios, out := piped()
	require.NoError(t, peersKickRun(&PeersKickOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(api, "good-key"), Room: "standup", Peer: "bob"}))
	require.Equal(t, "peer PA_2 (bob) kicked\n", out.String())
	require.Equal(t, []string{"POST /admin/v1/rooms/standup/peers/bob/kick"}, api.requests)

	ios, out = piped()
	require.NoError(t, peersMuteRun(&PeersMuteOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(api, "good-key"), Room: "standup", Peer: "bob"}))
	require.Equal(t, "peer PA_2 (bob) muted\n", out.String())

	ios, out = piped()
	require.NoError(t, peersMuteRun(&PeersMuteOptions{IO: ios, Output: cmdutil.FormatJSON, Client: connect(api, "good-key"), Room: "standup", Peer: "bob", Unmute: true}))
	var res wire.AdminResult
	require.NoError(t, json.Unmarshal(out.Bytes(), &res))
	require.Equal(t, wire.AdminResult{OK: true, Message: "peer PA_2 (bob) unmuted"}, res)

	require.Error(t, peersKickRun(&PeersKickOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(api, "good-key"), Room: "nope", Peer: "bob"}))
}

func TestRoomsListRun(t *testing.T) {
	api := &fakeAPI{}
	ios, out := piped()
	opts := &RoomsListOptions{IO: ios, Output: cmdutil.FormatTable, Now: now, Client: connect(api, "good-key"), APIClient: connect(api, "good-key")}
	require.NoError(t, roomsListRun(opts))
	require.Equal(t, "standup\t3\t2\t0,1\t1\t1\t1h\n", out.String())
	require.Equal(t, []string{"GET /admin/v1/rooms"}, api.requests)

	api.requests = nil
	out.Reset()
	opts.Cluster = true
	require.NoError(t, roomsListRun(opts))
	require.Equal(t, []string{"GET /v1/rooms"}, api.requests, "Cluster: the API's directory")
	require.Equal(t, "standup\t"+fixtureServers[0].ID+"\tlive\thttp://127.0.0.11:7880\t1\t1h\n", out.String())

	out.Reset()
	opts.Output = cmdutil.FormatJSON
	require.NoError(t, roomsListRun(opts))
	var rooms []wire.ClusterRoom
	require.NoError(t, json.Unmarshal(out.Bytes(), &rooms))
	require.Equal(t, 1, rooms[0].Moves)
}

func TestRoomsShowRun(t *testing.T) {
	ios, out := piped()
	require.NoError(t, roomsShowRun(&RoomsShowOptions{IO: ios, Output: cmdutil.FormatTable, Now: now, Client: connect(&fakeAPI{}, "good-key"), Room: "standup"}))
	ls := lines(out.String())
	require.Equal(t, "Room standup: peers 3, publishers 2, routers on workers 0,1, pipes 1", ls[0])
	require.Empty(t, ls[1])
	require.Len(t, ls, 2+3+1+1, "summary, blank, 3 peers, blank, 1 pipe")
	require.True(t, strings.HasPrefix(ls[6], "PP_1\t"), ls[6])

	ios, out = piped()
	require.NoError(t, roomsShowRun(&RoomsShowOptions{IO: ios, Output: cmdutil.FormatYAML, Now: now, Client: connect(&fakeAPI{}, "good-key"), Room: "standup"}))
	require.NotContains(t, out.String(), "Room standup:")
	var room map[string]any
	require.NoError(t, yaml.Unmarshal(out.Bytes(), &room))
	require.Equal(t, "standup", room["id"])
}

func TestRoomsCloseRun(t *testing.T) {
	api := &fakeAPI{}
	ios, out := piped()
	require.NoError(t, roomsCloseRun(&RoomsCloseOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(api, "good-key"), Room: "standup"}))
	require.Equal(t, "room standup closed; 3 peers removed\n", out.String())
	require.Equal(t, []string{"DELETE /admin/v1/rooms/standup"}, api.requests)
}

func TestRoomsMoveRun(t *testing.T) {
	api := &fakeAPI{}
	ios, out := piped()
	require.NoError(t, roomsMoveRun(&RoomsMoveOptions{IO: ios, Output: cmdutil.FormatTable, APIClient: connect(api, "good-key"), Room: "standup"}))
	require.Equal(t, []string{"POST /v1/rooms/standup/move"}, api.requests)
	require.Equal(t, "room standup moved to "+fixtureServers[1].ID+" (http://127.0.0.12:7880), move 2\n", out.String())

	ios, out = piped()
	require.NoError(t, roomsMoveRun(&RoomsMoveOptions{IO: ios, Output: cmdutil.FormatJSON, APIClient: connect(api, "good-key"), Room: "standup", To: fixtureServers[2].ID}))
	var r wire.ClusterRoom
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	require.Equal(t, fixtureServers[2].ID, r.Server, "--to reaches the API")
}

func TestServersRun(t *testing.T) {
	ios, out := piped()
	require.NoError(t, serversRun(&ServersOptions{IO: ios, Output: cmdutil.FormatTable, Now: now, APIClient: connect(&fakeAPI{}, "good-key")}))
	ls := lines(out.String())
	require.Len(t, ls, 3)
	require.Equal(t, "6f1c2a3b-0000-4000-8000-000000000002\thttp://127.0.0.12:7880\tlive (full)\t9\t900\t0/0\t85%\t85%\tno\t2s\tv1", ls[1])
	require.Equal(t, "6f1c2a3b-0000-4000-8000-000000000003\thttp://127.0.0.13:7880\tdead\t1\t0\t0/0\t0%\t\tno\t2m\tv1", ls[2], "no workers: an empty cell")

	ios, out = piped()
	require.NoError(t, serversRun(&ServersOptions{IO: ios, Output: cmdutil.FormatYAML, Now: now, APIClient: connect(&fakeAPI{}, "good-key")}))
	var ss []wire.ClusterServer
	require.NoError(t, yaml.Unmarshal(out.Bytes(), &ss))
	require.Len(t, ss, 3)
	require.Equal(t, cluster.ServerDead, ss[2].State, "-o yaml: the registry's state, without the table's (full)")
}

func TestServersDrainRun(t *testing.T) {
	id := fixtureServers[1].ID
	api := &fakeAPI{}
	ios, out := piped()
	require.NoError(t, serversDrainRun(&ServersDrainOptions{IO: ios, Output: cmdutil.FormatTable, APIClient: connect(api, "good-key"), ID: id, Deadline: time.Minute}))
	require.Equal(t, []string{"POST /v1/servers/" + id + "/drain"}, api.requests)
	require.Equal(t, "server "+id+" draining (900 peers); it exits when empty or at "+t0.Add(time.Minute).Local().Format(time.RFC3339)+"\n", out.String())

	require.ErrorContains(t, serversDrainRun(&ServersDrainOptions{IO: ios, Output: cmdutil.FormatTable, APIClient: connect(api, "good-key"), ID: "ghost"}), "not found")
}

func TestDrainSelfWaitsUntilTheServerHasGone(t *testing.T) {
	api := &fakeAPI{selfExits: true, selfUntil: time.Now().Add(time.Minute)}
	ios, out := piped()
	opts := &ServersDrainOptions{IO: ios, Output: cmdutil.FormatTable, Client: connect(api, "good-key"), APIClient: connect(api, "bad-key"), Self: true}
	require.NoError(t, serversDrainRun(opts))
	require.Equal(t, []string{"POST /admin/v1/drain"}, api.requests, "then the server no longer answers")
	require.Equal(t, []string{"draining (7 peers) until " + api.selfUntil.Local().Format(time.RFC3339) + " at the latest", "drained: the server has exited"}, lines(out.String()))

	api = &fakeAPI{selfExits: true, selfUntil: time.Now().Add(time.Minute)}
	ios, out = piped()
	opts = &ServersDrainOptions{IO: ios, Output: cmdutil.FormatJSON, Client: connect(api, "good-key"), Self: true}
	require.NoError(t, serversDrainRun(opts))
	require.Empty(t, out.String(), "-o json: nothing for people")

	// Past its deadline (and the 15 s of grace) the server still answers.
	api = &fakeAPI{selfUntil: time.Now().Add(-time.Minute)}
	opts = &ServersDrainOptions{IO: ios, Output: cmdutil.FormatJSON, Client: connect(api, "good-key"), Self: true}
	require.ErrorContains(t, serversDrainRun(opts), "still answers")

	opts = &ServersDrainOptions{IO: ios, Output: cmdutil.FormatJSON, Client: connect(api, "bad-key"), Self: true}
	require.ErrorContains(t, serversDrainRun(opts), "refused")
}

func TestServersRestartRun(t *testing.T) {
	api := &fakeAPI{}
	ios, out := piped()
	require.NoError(t, serversRestartRun(&ServersRestartOptions{IO: ios, Output: cmdutil.FormatTable, APIClient: connect(api, "good-key"), Rolling: true, Wait: time.Minute}))
	a, b := fixtureServers[0].ID, fixtureServers[1].ID
	require.Equal(t, []string{"GET /v1/servers", "POST /v1/servers/" + a + "/drain", "GET /v1/servers", "POST /v1/servers/" + b + "/drain", "GET /v1/servers"}, api.requests,
		"every live server, one after the other, each once it is back")
	ls := lines(out.String())
	require.Len(t, ls, 4)
	require.Equal(t, "[1/2] "+a+" draining (40 peers)", ls[0])
	require.Regexp(t, `^\[1/2\] `+a+` back after \d+\.\ds$`, ls[1])
	require.Equal(t, "[2/2] "+b+" draining (900 peers)", ls[2])

	api = &fakeAPI{}
	ios, out = piped()
	require.NoError(t, serversRestartRun(&ServersRestartOptions{IO: ios, Output: cmdutil.FormatJSON, APIClient: connect(api, "good-key"), IDs: []string{b}, Rolling: true, Wait: time.Minute}))
	var steps []RestartStep
	require.NoError(t, json.Unmarshal(out.Bytes(), &steps))
	require.Len(t, steps, 1)
	require.Equal(t, b, steps[0].Server)
	require.Equal(t, 900, steps[0].Peers)

	require.ErrorContains(t, serversRestartRun(&ServersRestartOptions{IO: ios, Output: cmdutil.FormatTable, APIClient: connect(&fakeAPI{}, "good-key"), IDs: []string{"ghost"}, Wait: time.Minute}),
		"no server ghost in the registry")

	api = &fakeAPI{stayDown: true}
	err := serversRestartRun(&ServersRestartOptions{IO: ios, Output: cmdutil.FormatTable, APIClient: connect(api, "good-key"), IDs: []string{a}, Wait: time.Millisecond})
	require.ErrorContains(t, err, "server "+a+" not back within 1ms")
}
