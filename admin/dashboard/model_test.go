package dashboard

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

var update = flag.Bool("update", false, "rewrite the golden views")

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii) // golden views without escape codes
	os.Exit(m.Run())
}

// fakeSource is an in-memory Source for model tests.
type fakeSource struct {
	snap    Snapshot
	err     error
	actions []string
}

func (f *fakeSource) Workers(context.Context) ([]wire.AdminWorker, error) {
	return f.snap.Workers, f.err
}
func (f *fakeSource) Rooms(context.Context) ([]wire.AdminRoom, error) { return f.snap.Rooms, f.err }
func (f *fakeSource) Pipes(context.Context) ([]wire.AdminPipe, error) { return f.snap.Pipes, f.err }
func (f *fakeSource) Room(_ context.Context, id string) (wire.AdminRoomDetail, error) {
	if f.snap.Room != nil && f.snap.Room.ID == id {
		return *f.snap.Room, f.err
	}
	return wire.AdminRoomDetail{}, errors.New("not found")
}
func (f *fakeSource) CloseRoom(_ context.Context, id string) (wire.AdminResult, error) {
	f.actions = append(f.actions, "close "+id)
	return wire.AdminResult{OK: true, Message: "room " + id + " closed"}, nil
}
func (f *fakeSource) Kick(_ context.Context, room, peer string) (wire.AdminResult, error) {
	f.actions = append(f.actions, "kick "+room+" "+peer)
	return wire.AdminResult{OK: true, Message: "peer " + peer + " kicked"}, nil
}
func (f *fakeSource) Mute(_ context.Context, room, peer string, muted bool) (wire.AdminResult, error) {
	f.actions = append(f.actions, "mute "+room+" "+peer+" "+map[bool]string{true: "on", false: "off"}[muted])
	return wire.AdminResult{OK: true, Message: "peer " + peer + " muted"}, nil
}

func fixture() Snapshot {
	room := wire.AdminRoomDetail{
		AdminRoom: wire.AdminRoom{ID: "standup", Peers: 3, Publishers: 2, Pipes: 1,
			Routers:  []wire.AdminRouter{{ID: "RT_a", Worker: 0, Peers: 2}, {ID: "RT_b", Worker: 1, Peers: 1}},
			Speakers: []wire.Speaker{{PeerID: "PA_1", Level: 97, Identity: "alice"}}},
		PeerList: []wire.AdminPeer{
			{ID: "PA_1", Identity: "alice", Worker: 0, Publishing: true, Path: "udp", Quality: wire.QualityExcellent, Score: 97, JitterMs: 1, RTTMs: 2},
			{ID: "PA_2", Identity: "bob", Worker: 0, Publishing: true, Muted: true, Path: "turn/tls", Quality: wire.QualityPoor, Score: 35, Loss: 0.2, JitterMs: 30, RTTMs: 120},
			{ID: "PA_3", Identity: "carol", Worker: 1},
		},
		PipeList: []wire.AdminPipe{{ID: "PP_1", Room: "standup", Workers: []int{0, 1}, Flows: []wire.AdminPipeFlow{{ProducerID: "PR_1", Consumers: 1}, {ProducerID: "PR_2", Consumers: 1}}}},
	}
	return Snapshot{
		Workers: []wire.AdminWorker{
			{Index: 0, Ready: true, Load: 600, ReservedLoad: 600, Capacity: 1000, Stress: 0.6, CPUPercent: 41.5, Routers: 2, Transports: 30, Pipes: 1, PacketsInPerSecond: 500, PacketsOutPerSecond: 14500},
			{Index: 1, Ready: false, Load: 0, Capacity: 1000, Restarts: 2},
		},
		Rooms: []wire.AdminRoom{room.AdminRoom, {ID: "town-hall", Peers: 27, Publishers: 1, Routers: []wire.AdminRouter{{Worker: 0}}}},
		Pipes: room.PipeList,
		Room:  &room,
	}
}

// drive feeds msgs to the model, running the commands that fetch or act (not ticks).
func drive(t *testing.T, m tea.Model, msgs ...tea.Msg) tea.Model {
	t.Helper()
	for _, msg := range msgs {
		var cmd tea.Cmd
		m, cmd = m.Update(msg)
		m = runCmd(t, m, cmd, 0)
	}
	return m
}

func runCmd(t *testing.T, m tea.Model, cmd tea.Cmd, depth int) tea.Model {
	if cmd == nil || depth > 3 {
		return m
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		switch msg.(type) {
		case tickMsg, nil:
			return m
		case tea.BatchMsg, tea.QuitMsg:
			return m
		}
		if _, blink := msg.(interface{ Blink() }); blink {
			return m
		}
		var next tea.Cmd
		m, next = m.Update(msg)
		return runCmd(t, m, next, depth+1)
	case <-time.After(50 * time.Millisecond):
		return m // a timer (tick or cursor blink): not part of this step
	}
}

func keys(s ...string) []tea.Msg {
	out := make([]tea.Msg, len(s))
	for i, k := range s {
		switch k {
		case "tab":
			out[i] = tea.KeyMsg{Type: tea.KeyTab}
		case "enter":
			out[i] = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			out[i] = tea.KeyMsg{Type: tea.KeyEsc}
		case "down":
			out[i] = tea.KeyMsg{Type: tea.KeyDown}
		default:
			out[i] = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./admin/dashboard -update")
	require.Equal(t, string(want), got)
}

func start(t *testing.T, src *fakeSource, w, h int) tea.Model {
	m := tea.Model(New(Params{Source: src, Server: "http://voice.test:7880", Refresh: time.Hour}))
	m = drive(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return runCmd(t, m, m.Init(), 0)
}

func TestGoldenViews(t *testing.T) {
	for _, size := range [][2]int{{100, 24}, {60, 14}} {
		src := &fakeSource{snap: fixture()}
		m := start(t, src, size[0], size[1])
		sz := func(name string) string { return fmt.Sprintf("%s_%dx%d", name, size[0], size[1]) }
		golden(t, sz("workers"), m.View())
		m = drive(t, m, keys("tab")...)
		golden(t, sz("rooms"), m.View())
		m = drive(t, m, keys("enter")...)
		golden(t, sz("room"), m.View())
		m = drive(t, m, keys("esc", "tab")...)
		golden(t, sz("pipes"), m.View())
	}
}

func TestSmallTerminal(t *testing.T) {
	m := start(t, &fakeSource{snap: fixture()}, 30, 8)
	require.Equal(t, "Terminal too small (30x8); need at least 40x10.", m.View())
	m = drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 24})
	require.Contains(t, m.View(), "WORKER")
	for _, line := range strings.Split(drive(t, m, tea.WindowSizeMsg{Width: 45, Height: 12}).View(), "\n") {
		require.LessOrEqual(t, lipgloss.Width(line), 45, "line wider than the terminal: %q", line)
	}
}

func TestFilterRooms(t *testing.T) {
	m := start(t, &fakeSource{snap: fixture()}, 100, 24)
	m = drive(t, m, keys("2", "/", "t", "o", "w", "enter")...)
	v := m.View()
	require.Contains(t, v, "town-hall")
	require.NotContains(t, v, "standup")
	m = drive(t, m, keys("/", "esc")...)
	require.Contains(t, m.View(), "standup")
}

func TestActionsAskForConfirmation(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	m := start(t, src, 100, 24)
	m = drive(t, m, keys("2", "enter", "down", "K")...)
	require.Contains(t, m.View(), "Kick bob (PA_2) from standup? [y/n]")
	m = drive(t, m, keys("n")...)
	require.Empty(t, src.actions, "no action without a yes")
	require.Contains(t, m.View(), "cancelled")
	m = drive(t, m, keys("K", "y")...)
	require.Equal(t, []string{"kick standup PA_2"}, src.actions)
	require.Contains(t, m.View(), "peer PA_2 kicked")

	m = drive(t, m, keys("m", "y")...)
	require.Equal(t, "mute standup PA_2 off", src.actions[1], "bob is muted, so m unmutes")
	m = drive(t, m, keys("C")...)
	require.Contains(t, m.View(), "Close room standup and remove all its peers? [y/n]")
	m = drive(t, m, keys("y")...)
	require.Equal(t, "close standup", src.actions[2])
}

func TestDisconnectedKeepsDataGreyedAndReconnects(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	m := start(t, src, 100, 24)
	require.Contains(t, m.View(), "● connected")
	src.err = errors.New("connection refused")
	m = drive(t, m, tickMsg{})
	v := m.View()
	require.Contains(t, v, "disconnected")
	require.Contains(t, v, "connection refused")
	require.Contains(t, v, "41.5%", "last data still shown")
	src.err = nil
	m = drive(t, m, tickMsg{})
	require.Contains(t, m.View(), "● connected")
}

func TestQuit(t *testing.T) {
	m := start(t, &fakeSource{snap: fixture()}, 100, 24)
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	require.NotNil(t, cmd)
	require.IsType(t, tea.QuitMsg{}, cmd())
}

type fakeCluster struct {
	servers []wire.ClusterServer
	rooms   []wire.ClusterRoom
	peers   map[string]wire.AdminRoomDetail
}

func (f fakeCluster) Servers(context.Context) ([]wire.ClusterServer, error) { return f.servers, nil }
func (f fakeCluster) ClusterRooms(context.Context) ([]wire.ClusterRoom, error) {
	return f.rooms, nil
}
func (f fakeCluster) ClusterRoomPeers(_ context.Context, room string) (wire.AdminRoomDetail, error) {
	d, ok := f.peers[room]
	if !ok {
		return d, errors.New("not found")
	}
	return d, nil
}

func TestServersPageWhenPointedAtTheAPI(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cl := fakeCluster{servers: []wire.ClusterServer{
		{ID: "6f1c2a3b-0000-4000-8000-000000000001", SignalURL: "http://127.0.0.11:7880", State: "live", Rooms: 3, Peers: 40, Stress: 0.45,
			Accepting: true, LastSeen: now.Add(-1500 * time.Millisecond), Workers: []wire.ClusterWorker{{Stress: 0.5}, {Stress: 0.4}}},
		{ID: "9a9a9a9a-0000-4000-8000-000000000002", SignalURL: "http://127.0.0.12:7880", State: "dead", Rooms: 1, LastSeen: now.Add(-2 * time.Minute)},
	}}
	m := tea.Model(New(Params{Cluster: cl, Server: "http://api.test:7870", Refresh: time.Hour, Now: func() time.Time { return now }}))
	m = drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 24})
	m = runCmd(t, m, m.Init(), 0)
	golden(t, "servers_100x24", m.View())
	v := m.View()
	require.Contains(t, v, "1 Servers")
	require.NotContains(t, v, "Workers")
	require.Contains(t, v, "6f1c2a3b")
	require.Contains(t, v, "50% 40%")
	require.Contains(t, v, "1.5s")
	require.Contains(t, v, "dead")
	m = drive(t, m, keys("tab")...)
	require.Contains(t, m.View(), "1 Servers", "tab stays on the only page")
}

func TestServersPageSaysTheAPIIsOffTheBroker(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cl := fakeCluster{servers: []wire.ClusterServer{
		{ID: "6f1c2a3b-0000-4000-8000-000000000001", State: "live", LastSeen: now.Add(-30 * time.Second), APIBusDownSince: now.Add(-29 * time.Second)},
	}}
	m := tea.Model(New(Params{Cluster: cl, Server: "http://api.test:7870", Refresh: time.Hour, Now: func() time.Time { return now }}))
	m = drive(t, m, tea.WindowSizeMsg{Width: 200, Height: 24})
	m = runCmd(t, m, m.Init(), 0)
	require.Contains(t, m.View(), "API off the message broker since "+now.Add(-29*time.Second).Local().Format(time.TimeOnly)+" (29s)")
}

func TestServersPageTellsAServerOffTheBusFromADeadOne(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cl := fakeCluster{servers: []wire.ClusterServer{
		{ID: "6f1c2a3b-0000-4000-8000-000000000001", State: "live", LastSeen: now.Add(-12 * time.Second), OffBus: true, ProbeAnsweredAt: now},
		{ID: "9a9a9a9a-0000-4000-8000-000000000002", State: "dead", LastSeen: now.Add(-12 * time.Second)},
	}}
	m := tea.Model(New(Params{Cluster: cl, Server: "http://api.test:7870", Refresh: time.Hour, Now: func() time.Time { return now }}))
	m = drive(t, m, tea.WindowSizeMsg{Width: 200, Height: 24})
	m = runCmd(t, m, m.Init(), 0)
	v := m.View()
	require.Contains(t, v, "live (off bus)")
	require.Contains(t, v, "dead")
	require.Equal(t, 1, strings.Count(v, "off bus"), "a dead server is not off the bus")
}

func TestClusterRoomsAndTheirPeersThroughTheAPI(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	hot, cool := "6f1c2a3b-0000-4000-8000-000000000003", "9a9a9a9a-0000-4000-8000-000000000001"
	cl := fakeCluster{
		servers: []wire.ClusterServer{
			{ID: cool, SignalURL: "http://127.0.0.11:7880", State: "live", Rooms: 1, Peers: 2, Stress: 0.1, Accepting: true, LastSeen: now},
			{ID: hot, SignalURL: "http://127.0.0.13:7880", State: "live", Rooms: 2, Peers: 900, Stress: 0.92, LastSeen: now},
		},
		rooms: []wire.ClusterRoom{
			{Room: "lobby", Server: cool, SignalURL: "http://127.0.0.11:7880", ServerState: "live"},
			{Room: "standup", Server: hot, SignalURL: "http://127.0.0.13:7880", ServerState: "live", Moves: 1},
			{Room: "townhall", Server: hot, SignalURL: "http://127.0.0.13:7880", ServerState: "live"},
		},
		peers: map[string]wire.AdminRoomDetail{"standup": {AdminRoom: wire.AdminRoom{ID: "standup", Peers: 2, Publishers: 1,
			Routers: []wire.AdminRouter{{ID: "RT_a", Worker: 0, Peers: 2}}},
			PeerList: []wire.AdminPeer{
				{ID: "PA_1", Identity: "alice", Publishing: true, Path: "udp", Quality: wire.QualityExcellent, Score: 97, JitterMs: 1, RTTMs: 3},
				{ID: "PA_2", Identity: "bob", Path: "udp", Quality: wire.QualityPoor, Score: 35, Loss: 0.2, JitterMs: 14, RTTMs: 40},
			}}},
	}
	m := tea.Model(New(Params{Cluster: cl, Server: "http://api.test:7870", Refresh: time.Hour, Now: func() time.Time { return now }}))
	m = drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 24})
	m = runCmd(t, m, m.Init(), 0)
	require.Contains(t, m.View(), "2 Rooms")

	// Server 6f1c2a3b is hot: enter on it lists its rooms.
	m = drive(t, m, keys("down", "enter")...)
	v := m.View()
	require.Contains(t, v, "standup")
	require.Contains(t, v, "townhall")
	require.NotContains(t, v, "lobby", "the rooms of the selected server only")
	require.Contains(t, v, "6f1c2a3b")

	// Opening standup shows its peers and their quality, from the API.
	m = drive(t, m, keys("enter")...)
	m = runCmd(t, m, m.(Model).fetchCmd(), 0)
	v = m.View()
	golden(t, "cluster_room_100x24", v)
	require.Contains(t, v, "Room standup")
	require.Contains(t, v, "server 6f1c2a3b")
	require.Regexp(t, `bob .*20\.0%.*14ms.*40ms.*poor 35`, v)
	require.Regexp(t, `alice .*excellent 97`, v)

	// The API cannot kick: the key says so instead of acting.
	m = drive(t, m, keys("K")...)
	require.Contains(t, m.View(), "read-only through the API")
	m = drive(t, m, keys("esc")...)
	require.Contains(t, m.View(), "townhall", "back to the rooms")

	// Tab goes back to the servers.
	m = drive(t, m, keys("tab")...)
	require.Contains(t, m.View(), "HEARTBEAT")
}

// A fetch begun before a room was opened answers after it, without that
// room: the page keeps loading the room instead of calling it gone (seen in
// the tmux e2e test on a loaded machine).
func TestAFetchFromBeforeOpeningARoomDoesNotCloseIt(t *testing.T) {
	m := start(t, &fakeSource{snap: fixture()}, 100, 24)
	m = drive(t, m, keys("2")...)
	opened, _ := m.Update(tea.KeyMsg{Type: tea.KeyEnter}) // its fetch is not run: the stale one lands first
	stale := fixture()
	stale.Room = nil
	m, _ = opened.Update(snapshotMsg{snap: stale})
	v := m.View()
	require.NotContains(t, v, "is gone")
	require.Contains(t, v, "Loading room standup")
	m, _ = m.Update(snapshotMsg{snap: fixture(), room: "standup"})
	require.Contains(t, m.View(), "Room standup")
	gone := fixture()
	gone.Room = nil
	m, _ = m.Update(snapshotMsg{snap: gone, room: "standup"})
	require.Contains(t, m.View(), "room standup is gone")
}
