package admincmd

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

var fixtureWorkers = []wire.AdminWorker{
	{Index: 0, PID: 4101, Port: 50000, Ready: true, Routers: 2, Transports: 5, Producers: 4, Consumers: 9, Pipes: 1, PipeConsumers: 2,
		Load: 15, ReservedLoad: 15, Capacity: 1000, Stress: 0.015, PacketsInPerSecond: 150, PacketsOutPerSecond: 550, CPUPercent: 3.25, CPUSeconds: 12.5},
	{Index: 1, PID: 4102, Port: 50001, Ready: true, Routers: 1, Transports: 2, Producers: 2, Consumers: 4, Pipes: 1, PipeProducers: 2,
		Load: 6, ReservedLoad: 6, Capacity: 1000, Stress: 0.006, PacketsInPerSecond: 100, PacketsOutPerSecond: 200, CPUPercent: 1, Restarts: 1},
}

var fixtureRoom = wire.AdminRoomDetail{
	AdminRoom: wire.AdminRoom{ID: "standup", Peers: 3, Publishers: 2, Pipes: 1, CreatedAt: t0.Add(-90 * time.Minute),
		Routers:  []wire.AdminRouter{{ID: "RT_a", Worker: 0, Peers: 2}, {ID: "RT_b", Worker: 1, Peers: 1}},
		Speakers: []wire.Speaker{{PeerID: "PA_1", Level: 97}}},
	PeerList: []wire.AdminPeer{
		{ID: "PA_1", Identity: "alice", Worker: 0, Router: "RT_a", Publishing: true, ProducerID: "PR_1", JoinedAt: t0.Add(-80 * time.Minute),
			Path: wire.PathUDP, RemoteAddress: "127.0.0.1:51000", Quality: wire.QualityExcellent, Score: 97, JitterMs: 1.5, RTTMs: 2.4},
		{ID: "PA_2", Identity: "bob", Worker: 0, Router: "RT_a", Publishing: true, Muted: true, ProducerID: "PR_2", JoinedAt: t0.Add(-5 * time.Minute),
			Path: wire.PathTURNTLS, RemoteAddress: "127.0.0.1:49152", Quality: wire.QualityPoor, Score: 71, Loss: 0.102, JitterMs: 12, RTTMs: 48},
		{ID: "PA_3", Identity: "carol", Worker: 1, Router: "RT_b", JoinedAt: t0.Add(-30 * time.Second)},
	},
	PipeList: []wire.AdminPipe{{ID: "PP_1", Room: "standup", Workers: []int{0, 1}, Routers: []string{"RT_a", "RT_b"},
		Addrs: []string{"127.0.0.1:40001", "127.0.0.1:40002"},
		Flows: []wire.AdminPipeFlow{{ProducerID: "PR_1", From: 0, To: 1, SSRC: 11, Consumers: 1}, {ProducerID: "PR_2", From: 0, To: 1, SSRC: 12, Consumers: 1}}}},
}

var fixtureServers = []wire.ClusterServer{
	{ID: "6f1c2a3b-0000-4000-8000-000000000001", SignalURL: "http://127.0.0.11:7880", State: "live", Version: "v1", Rooms: 3, Peers: 40, RelayRooms: 1, RelayPeers: 12,
		Stress: 0.45, Accepting: true, LastSeen: t0.Add(-1 * time.Second), Workers: []wire.ClusterWorker{{Index: 0, Ready: true, Stress: 0.5}, {Index: 1, Ready: true, Stress: 0.4}}},
	{ID: "6f1c2a3b-0000-4000-8000-000000000002", SignalURL: "http://127.0.0.12:7880", State: "live", Version: "v1", Rooms: 9, Peers: 900,
		Stress: 0.85, LastSeen: t0.Add(-2 * time.Second), Workers: []wire.ClusterWorker{{Index: 0, Ready: true, Stress: 0.85}}},
	{ID: "6f1c2a3b-0000-4000-8000-000000000003", SignalURL: "http://127.0.0.13:7880", State: "dead", Version: "v1", Rooms: 1,
		LastSeen: t0.Add(-2 * time.Minute), Workers: []wire.ClusterWorker{}},
}

// fakeAPI serves fixtures in memory: no sockets.
type fakeAPI struct {
	requests []string
	// restarted are the servers drained (by id): the registry then lists
	// them with a new process, StartedAt t0, unless stayDown.
	restarted map[string]bool
	stayDown  bool
	// gone is set by POST /admin/v1/drain when selfExits: every later call
	// fails to connect, as to a server that exited.
	selfExits, gone bool
	// selfUntil is the deadline POST /admin/v1/drain answers.
	selfUntil time.Time
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer good-key" {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(wire.HTTPError{Code: wire.CodeUnauthorized, Message: "missing or wrong admin key"})
		return
	}
	var v any
	if id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v1/servers/"), "/drain"); ok && r.Method == http.MethodPost && serverIndex(id) >= 0 {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		d, _ := time.ParseDuration(body["deadline"])
		if d == 0 {
			d = 2 * time.Minute
		}
		if f.restarted == nil {
			f.restarted = map[string]bool{}
		}
		f.restarted[id] = !f.stayDown
		_ = json.NewEncoder(w).Encode(wire.ClusterDrain{Server: id, Until: t0.Add(d), Peers: fixtureServers[serverIndex(id)].Peers})
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /admin/v1/workers":
		v = fixtureWorkers
	case "GET /admin/v1/rooms":
		v = []wire.AdminRoom{fixtureRoom.AdminRoom}
	case "GET /admin/v1/rooms/standup":
		v = fixtureRoom
	case "GET /v1/servers":
		ss := slices.Clone(fixtureServers)
		for i := range ss {
			if f.restarted[ss[i].ID] {
				ss[i].StartedAt = t0
			}
		}
		v = ss
	case "POST /admin/v1/drain":
		f.gone = f.selfExits
		v = wire.ClusterDrain{Server: fixtureServers[0].ID, Until: f.selfUntil, Peers: 7}
	case "POST /v1/rooms/standup/move":
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		to := cmp.Or(body["to"], fixtureServers[1].ID)
		v = wire.ClusterRoom{Room: "standup", Server: to, ServerState: "live", SignalURL: fixtureServers[serverIndex(to)].SignalURL, CreatedAt: t0.Add(-time.Hour), Moves: 2}
	case "GET /v1/rooms":
		v = []wire.ClusterRoom{{Room: "standup", Server: fixtureServers[0].ID, ServerState: "live", SignalURL: "http://127.0.0.11:7880", CreatedAt: t0.Add(-time.Hour), Moves: 1}}
	case "GET /admin/v1/pipes":
		v = fixtureRoom.PipeList
	case "DELETE /admin/v1/rooms/standup":
		v = wire.AdminResult{OK: true, Message: "room standup closed; 3 peers removed"}
	case "POST /admin/v1/rooms/standup/peers/bob/kick":
		v = wire.AdminResult{OK: true, Message: "peer PA_2 (bob) kicked"}
	case "POST /admin/v1/rooms/standup/peers/bob/mute":
		var m wire.AdminMute
		_ = json.NewDecoder(r.Body).Decode(&m)
		v = wire.AdminResult{OK: true, Message: map[bool]string{true: "peer PA_2 (bob) muted", false: "peer PA_2 (bob) unmuted"}[*m.Muted]}
	default:
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(wire.HTTPError{Code: wire.CodeNotFound, Message: "room \"nope\" not found"})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// serverIndex is id's place in fixtureServers, or -1.
func serverIndex(id string) int {
	return slices.IndexFunc(fixtureServers, func(s wire.ClusterServer) bool { return s.ID == id })
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if api, ok := t.h.(*fakeAPI); ok && api.gone {
		return nil, errors.New("connection refused")
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// run executes an admin command line against the fake API.
func run(t *testing.T, tty bool, key string, args ...string) (string, *fakeAPI, error) {
	t.Helper()
	api := &fakeAPI{}
	var out bytes.Buffer
	f := &cmdutil.Factory{
		IO: &cmdutil.IOStreams{Out: &out, ErrOut: &out, IsTerminal: tty},
		Environ: func() []string {
			return []string{"VOICECTL_ADMIN_URL=http://voice.test:7880", "VOICECTL_AUTH_ADMIN_KEY=" + key, "VOICECTL_AUTH_API_KEY=" + key}
		},
		HTTPClient: func() *http.Client { return &http.Client{Transport: handlerTransport{api}} },
		Now:        func() time.Time { return t0 },
	}
	var cmd *cobra.Command
	switch args[0] {
	case "workers":
		cmd = NewCmdWorkers(f, nil)
	case "pipes":
		cmd = NewCmdPipes(f, nil)
	case "rooms":
		cmd = NewCmdRooms(f)
	case "peers":
		cmd = NewCmdPeers(f, nil)
	case "servers":
		cmd = NewCmdServers(f, nil)
	}
	cmd.SetArgs(args[1:])
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return out.String(), api, err
}

func TestServersSayTheAPIIsOffTheBroker(t *testing.T) {
	ss := slices.Clone(fixtureServers)
	require.Empty(t, apiBusNote(ss, t0), "connected: nothing to say")
	for i := range ss {
		ss[i].APIBusDownSince = t0.Add(-40 * time.Second)
	}
	note := apiBusNote(ss, t0)
	require.Contains(t, note, "off the message broker since "+ss[0].APIBusDownSince.Local().Format(time.TimeOnly)+" (40s ago)")
	require.Equal(t, "1s (bus down)", heartbeatCell(t0, ss[0]))
	require.Equal(t, "1s", heartbeatCell(t0, fixtureServers[0]))
}

func TestServersTellAServerOffTheBusFromADeadOne(t *testing.T) {
	s := fixtureServers[0]
	s.OffBus, s.LastSeen, s.ProbeAnsweredAt = true, t0.Add(-12*time.Second), t0.Add(-time.Second)
	require.Equal(t, "live (off bus)", serverState(s))
	require.Equal(t, "12s (probe 1s ago)", heartbeatCell(t0, s))
	s.Accepting = false
	require.Equal(t, "live (off bus)", serverState(s), "taking no new room is what off bus means")
	require.Equal(t, "dead", serverState(fixtureServers[2]))
}

func TestServersListsTheCluster(t *testing.T) {
	out, api, err := run(t, false, "good-key", "servers", "--api", "http://api.test:7870")
	require.NoError(t, err)
	require.Equal(t, []string{"GET /v1/servers"}, api.requests)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, "piped: no header, a row per server")
	require.Equal(t, "6f1c2a3b-0000-4000-8000-000000000001\thttp://127.0.0.11:7880\tlive\t3\t40\t12/1\t45%\t50% 40%\tyes\t1s\tv1", lines[0])
	require.Contains(t, lines[1], "live (full)")
	require.Contains(t, lines[2], "\tdead\t")
	require.Contains(t, lines[2], "\t2m\t")

	out, _, err = run(t, false, "good-key", "servers", "--api", "http://api.test:7870", "-o", "json")
	require.NoError(t, err)
	var got []wire.ClusterServer
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, fixtureServers[1].ID, got[1].ID)

	_, _, err = run(t, false, "bad-key", "servers", "--api", "http://api.test:7870")
	require.ErrorContains(t, err, "refused")
}

func TestServersDrain(t *testing.T) {
	id := fixtureServers[0].ID
	out, api, err := run(t, false, "good-key", "servers", "drain", id, "--deadline", "5m", "--api", "http://api.test:7870")
	require.NoError(t, err)
	require.Equal(t, []string{"POST /v1/servers/" + id + "/drain"}, api.requests)
	require.Contains(t, out, "server "+id+" draining (40 peers)")
	require.Contains(t, out, t0.Add(5*time.Minute).Local().Format(time.RFC3339))

	out, _, err = run(t, false, "good-key", "servers", "drain", id, "-o", "json", "--api", "http://api.test:7870")
	require.NoError(t, err)
	var d wire.ClusterDrain
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	require.True(t, d.Until.Equal(t0.Add(2*time.Minute)), "without --deadline the server's own")

	_, _, err = run(t, false, "good-key", "servers", "drain", "ghost", "--api", "http://api.test:7870")
	require.ErrorContains(t, err, "not found")
	_, _, err = run(t, false, "good-key", "servers", "drain", "--api", "http://api.test:7870")
	require.Error(t, err, "an id is required")
}

func TestRoomsListAgainstTheAPIShowsEachRoomsServer(t *testing.T) {
	out, api, err := run(t, false, "good-key", "rooms", "list", "--api", "http://api.test:7870")
	require.NoError(t, err)
	require.Equal(t, []string{"GET /v1/rooms"}, api.requests)
	require.Equal(t, "standup\t"+fixtureServers[0].ID+"\tlive\thttp://127.0.0.11:7880\t1\t1h\n", out)
	out, api, err = run(t, false, "good-key", "rooms", "list")
	require.NoError(t, err)
	require.Equal(t, []string{"GET /admin/v1/rooms"}, api.requests, "without --api: the server's admin API")
	require.Contains(t, out, "standup")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/internal/admincmd -update")
	require.Equal(t, string(want), got)
}

func TestTablesGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"workers", []string{"workers"}},
		{"rooms_list", []string{"rooms", "list"}},
		{"rooms_show", []string{"rooms", "show", "standup"}},
		{"peers", []string{"peers", "standup"}},
		{"pipes", []string{"pipes"}},
		{"rooms_list_api", []string{"rooms", "list", "--api", "http://api.test:7870"}},
		{"servers", []string{"servers", "--api", "http://api.test:7870"}},
	} {
		for _, tty := range []bool{true, false} {
			name := tc.name + map[bool]string{true: "_tty", false: "_plain"}[tty]
			t.Run(name, func(t *testing.T) {
				out, _, err := run(t, tty, "good-key", tc.args...)
				require.NoError(t, err)
				golden(t, name, out)
			})
		}
	}
}

func TestPlainOutputIsTabSeparatedWithoutHeader(t *testing.T) {
	out, _, err := run(t, false, "good-key", "workers")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	require.Equal(t, "0", strings.Split(lines[0], "\t")[0])
	require.Len(t, strings.Split(lines[0], "\t"), len(workerColumns))
}

func TestJSONAndYAML(t *testing.T) {
	out, _, err := run(t, true, "good-key", "workers", "-o", "json")
	require.NoError(t, err)
	var ws []wire.AdminWorker
	require.NoError(t, json.Unmarshal([]byte(out), &ws))
	require.Equal(t, fixtureWorkers, ws)

	out, _, err = run(t, true, "good-key", "rooms", "show", "standup", "-o", "json")
	require.NoError(t, err)
	var room wire.AdminRoomDetail
	require.NoError(t, json.Unmarshal([]byte(out), &room))
	require.Equal(t, "standup", room.ID)
	require.Len(t, room.PeerList, 3)
	require.Equal(t, "bob", room.PeerList[1].Identity)

	out, _, err = run(t, true, "good-key", "pipes", "-o", "yaml")
	require.NoError(t, err)
	var pipes []map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(out), &pipes))
	require.Len(t, pipes, 1)
	require.Equal(t, "PP_1", pipes[0]["id"])
	require.NotContains(t, out, "{", "YAML should be in block style")

	_, _, err = run(t, true, "good-key", "workers", "-o", "xml")
	require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(err))
}

func TestActions(t *testing.T) {
	out, api, err := run(t, true, "good-key", "rooms", "close", "standup")
	require.NoError(t, err)
	require.Equal(t, "room standup closed; 3 peers removed\n", out)
	require.Equal(t, []string{"DELETE /admin/v1/rooms/standup"}, api.requests)

	out, api, err = run(t, true, "good-key", "peers", "kick", "standup", "bob")
	require.NoError(t, err)
	require.Equal(t, "peer PA_2 (bob) kicked\n", out)
	require.Equal(t, []string{"POST /admin/v1/rooms/standup/peers/bob/kick"}, api.requests)

	out, _, err = run(t, true, "good-key", "peers", "mute", "standup", "bob")
	require.NoError(t, err)
	require.Equal(t, "peer PA_2 (bob) muted\n", out)
	out, _, err = run(t, true, "good-key", "peers", "mute", "standup", "bob", "--unmute")
	require.NoError(t, err)
	require.Equal(t, "peer PA_2 (bob) unmuted\n", out)
}

func TestErrors(t *testing.T) {
	_, _, err := run(t, true, "bad-key", "workers")
	require.Error(t, err)
	require.Equal(t, "admin key refused: missing or wrong admin key", err.Error())
	_, _, err = run(t, true, "good-key", "rooms", "show", "nope")
	require.Error(t, err)
	require.Contains(t, err.Error(), `room "nope" not found`)
	_, _, err = run(t, true, "good-key", "peers")
	require.Error(t, err)
}
