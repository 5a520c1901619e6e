package service

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// fakeServer answers the API's commands on the local bus as a voice server
// would, and publishes the heartbeats the test gives it.
type fakeServer struct {
	id  cluster.ServerID
	b   *bus.Local
	url string

	mu      sync.Mutex
	created []string
	movedTo map[string]cluster.ServerID // room → where its peers were sent
	gaveUp  map[string]time.Time        // room → when it was moved away
	drains  []time.Duration
	release []string
}

func newFakeServer(t *testing.T, b *bus.Local, id string) *fakeServer {
	f := &fakeServer{id: cluster.ServerID(id), b: b, url: "http://" + id + ".test", movedTo: map[string]cluster.ServerID{},
		gaveUp: map[string]time.Time{}}
	m := bus.NewMux(f.id)
	bus.Handle(m, bus.CreateRoom, func(_ context.Context, _ bus.Envelope, r cluster.RoomCreate) (cluster.RoomInfo, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.created = append(f.created, r.Room)
		return cluster.RoomInfo{Room: r.Room, Server: f.id, SignalURL: f.url}, nil
	})
	bus.Handle(m, bus.MoveRoom, func(_ context.Context, _ bus.Envelope, mv cluster.RoomMove) (cluster.Result, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.movedTo[mv.Room] = mv.To
		f.gaveUp[mv.Room] = time.Now()
		return cluster.Result{OK: true, Peers: 2, At: f.gaveUp[mv.Room]}, nil
	})
	bus.Handle(m, bus.ReleaseRoom, func(_ context.Context, _ bus.Envelope, r cluster.RoomRef) (cluster.Result, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.release = append(f.release, r.Room)
		return cluster.Result{OK: true}, nil
	})
	bus.Handle(m, bus.CloseRoom, func(_ context.Context, _ bus.Envelope, r cluster.RoomRef) (cluster.Result, error) {
		return cluster.Result{OK: true, Peers: 1}, nil
	})
	bus.Handle(m, bus.RoomPeers, func(_ context.Context, _ bus.Envelope, r cluster.RoomRef) (wire.AdminRoomDetail, error) {
		return wire.AdminRoomDetail{AdminRoom: wire.AdminRoom{ID: r.Room, Peers: 1}, PeerList: []wire.AdminPeer{
			{ID: "PA_1", Identity: "listener-" + string(f.id), Quality: wire.QualityPoor, Score: 35, Loss: 0.2}}}, nil
	})
	bus.Handle(m, bus.Drain, func(_ context.Context, _ bus.Envelope, r cluster.DrainRequest) (cluster.DrainAnswer, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.drains = append(f.drains, r.Deadline)
		return cluster.DrainAnswer{Until: time.Now().Add(r.Deadline)}, nil
	})
	sub, err := b.Serve(bus.ServerQueue(f.id), m.Serve)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Cancel() })
	return f
}

func (f *fakeServer) beat(t *testing.T, hb cluster.Heartbeat) {
	t.Helper()
	hb.Server, hb.SignalURL = f.id, f.url
	if hb.SentAt.IsZero() {
		hb.SentAt = time.Now()
	}
	for room := range hb.RoomLoads {
		hb.Rooms = append(hb.Rooms, room)
	}
	body, err := json.Marshal(hb)
	require.NoError(t, err)
	require.NoError(t, f.b.Publish(context.Background(), bus.HeartbeatKey(f.id), bus.Envelope{Type: bus.TypeHeartbeat, From: f.id, Body: body}))
}

func (f *fakeServer) released() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.release...)
}

func (f *fakeServer) sentTo(room string) (cluster.ServerID, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	to, ok := f.movedTo[room]
	return to, ok
}

const key = "apps-key-0123456789"

func TestMoveRefusalsAndThePick(t *testing.T) {
	s, b := newTestServiceWith(t, func(p *Params) { p.MoveMargin = 0.5 })
	h := s.Handler()
	a, big, small := newFakeServer(t, b, "a"), newFakeServer(t, b, "big"), newFakeServer(t, b, "small")
	ctx := context.Background()
	_, _, err := s.p.Directory.Create(ctx, "standup", "a")
	require.NoError(t, err)
	a.beat(t, cluster.Heartbeat{Spare: 100, RoomLoads: map[string]int{"standup": 40}})
	big.beat(t, cluster.Heartbeat{Spare: 500})
	small.beat(t, cluster.Heartbeat{Spare: 59}) // 40 units need 60 with the margin

	for _, tc := range []struct {
		path, body string
		status     int
		code       wire.Code
	}{
		{"/v1/rooms/nowhere/move", `{}`, http.StatusNotFound, CodeRoomUnknown},
		{"/v1/rooms/standup/move", `{"to": "ghost"}`, http.StatusNotFound, CodeServerUnknown},
		{"/v1/rooms/standup/move", `{"to": "a"}`, http.StatusConflict, CodeAlreadyThere},
		{"/v1/rooms/standup/move", `{"to": "small"}`, http.StatusServiceUnavailable, wire.CodeNoCapacity},
		{"/v1/rooms/standup/move", `{"to": 7}`, http.StatusBadRequest, wire.CodeBadRequest},
	} {
		rec, he := do(t, h, "POST", tc.path, key, tc.body)
		require.Equal(t, tc.status, rec.Code, tc.path+" "+tc.body+": "+rec.Body.String())
		require.Equal(t, tc.code, he.Code, tc.body)
	}
	_, he := do(t, h, "POST", "/v1/rooms/standup/move", key, `{"to": "small"}`)
	require.Contains(t, he.Message, "59 load units spare", "the refusal says what is missing")
	require.Contains(t, he.Message, "needs 60")

	// Without a target the freest server that fits takes it.
	rec, _ := do(t, h, "POST", "/v1/rooms/standup/move", key, `{}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var ans RoomAnswer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans))
	require.Equal(t, "big", ans.Server)
	require.Equal(t, 1, ans.Moves)
	to, told := a.sentTo("standup")
	require.True(t, told, "the old home was told to send its peers on")
	require.Equal(t, cluster.ServerID("big"), to)
	srv, _ := s.reg.Get("big")
	require.Equal(t, 460, srv.SpareFor(), "the moved room counts on its new home until its heartbeat")

	// A dead target is refused; so is a move with nowhere to go. Only small
	// goes silent: a and big beat on while dead_after passes, as live servers
	// do (they beat last before it, and small's last: a failover of the room
	// from a silent big to small, the last one alive, had come in between).
	for deadline := time.Now().Add(2 * time.Second); s.reg.Live("small"); time.Sleep(10 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "small is declared dead")
		a.beat(t, cluster.Heartbeat{Spare: 100})
		big.beat(t, cluster.Heartbeat{Spare: 460, RoomLoads: map[string]int{"standup": 40}})
	}
	rec, he = do(t, h, "POST", "/v1/rooms/standup/move", key, `{"to": "small"}`)
	require.Equal(t, http.StatusConflict, rec.Code)
	require.Equal(t, CodeServerDead, he.Code)
	big.beat(t, cluster.Heartbeat{Spare: 10, RoomLoads: map[string]int{"standup": 40}})
	a.beat(t, cluster.Heartbeat{Spare: 10})
	// Heartbeats reach the registry over the bus: move only once it has both
	// (a move sent before had gone to a, still roomy, beside the whole suite).
	require.Eventually(t, func() bool {
		sa, okA := s.reg.Get("a")
		sb, okB := s.reg.Get("big")
		return okA && okB && sa.SpareFor() == 10 && sb.SpareFor() == 10
	}, 2*time.Second, 10*time.Millisecond)
	rec, he = do(t, h, "POST", "/v1/rooms/standup/move", key, `{}`)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, wire.CodeNoCapacity, he.Code)
}

// A heartbeat the old home sent before it gave a moved room up still lists
// the room, and may reach the API after the move's answer: that server is
// not told to release the room (its peers are on their way to the new home,
// and a release would send them back through the API instead). A heartbeat
// sent after it gave the room up that still lists it is a server that kept
// it, and is.
func TestAHeartbeatFromBeforeAMoveReleasesNothing(t *testing.T) {
	s, b := newTestServiceWith(t, func(*Params) {})
	a, big := newFakeServer(t, b, "a"), newFakeServer(t, b, "big")
	_, _, err := s.p.Directory.Create(context.Background(), "standup", "a")
	require.NoError(t, err)
	a.beat(t, cluster.Heartbeat{Spare: 100, RoomLoads: map[string]int{"standup": 40}})
	big.beat(t, cluster.Heartbeat{Spare: 500})
	require.Eventually(t, func() bool { return s.reg.Live("a") && s.reg.Live("big") }, 2*time.Second, 5*time.Millisecond)

	rec, _ := do(t, s.Handler(), "POST", "/v1/rooms/standup/move", key, `{"to": "big"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	a.mu.Lock()
	gave := a.gaveUp["standup"]
	a.mu.Unlock()
	require.False(t, gave.IsZero())
	hb := func(sent time.Time) cluster.Heartbeat {
		big.beat(t, cluster.Heartbeat{Spare: 460, RoomLoads: map[string]int{"standup": 40}}) // the new home is live
		require.Eventually(t, func() bool { return s.reg.Live("big") }, 2*time.Second, 5*time.Millisecond)
		return cluster.Heartbeat{Server: "a", Rooms: []string{"standup"}, SentAt: sent}
	}

	s.o.releaseMoved(hb(gave.Add(-time.Millisecond)))
	require.Empty(t, a.released(), "a heartbeat from before the move")
	s.o.releaseMoved(hb(gave.Add(time.Millisecond)))
	require.Equal(t, []string{"standup"}, a.released(), "a heartbeat from after it: the server kept the room")
}

func TestDrainMovesEveryRoomAway(t *testing.T) {
	s, b := newTestServiceWith(t, func(p *Params) { p.MoveMargin = 0.5 })
	h := s.Handler()
	d, c := newFakeServer(t, b, "d"), newFakeServer(t, b, "c")
	ctx := context.Background()
	for _, r := range []string{"r1", "r2", "r3"} {
		_, _, err := s.p.Directory.Create(ctx, r, "d")
		require.NoError(t, err)
	}
	loads := map[string]int{"r1": 10, "r2": 20, "r3": 30}
	d.beat(t, cluster.Heartbeat{Spare: 100, RoomLoads: loads})
	c.beat(t, cluster.Heartbeat{Spare: 1000})

	rec, he := do(t, h, "POST", "/v1/servers/ghost/drain", key, `{}`)
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, CodeServerUnknown, he.Code)
	rec, he = do(t, h, "POST", "/v1/servers/d/drain", key, `{"deadline": "soon"}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Equal(t, wire.CodeBadRequest, he.Code)
	rec, _ = do(t, h, "POST", "/v1/servers/d/drain", key, `{"deadline": "5m"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var dr wire.ClusterDrain
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &dr))
	require.WithinDuration(t, time.Now().Add(5*time.Minute), dr.Until, 5*time.Second)
	require.Equal(t, []time.Duration{5 * time.Minute}, d.drains)

	require.Eventually(t, func() bool {
		for r := range loads {
			if to, ok := d.sentTo(r); !ok || to != "c" {
				return false
			}
		}
		return true
	}, 3*time.Second, 20*time.Millisecond, "every room of the draining server moves to the one with room")
	rooms, err := s.p.Directory.List(ctx, "c")
	require.NoError(t, err)
	require.Len(t, rooms, 3)
}

func TestRebalanceMovesTheLargestRoomThatFitsOncePerCooldown(t *testing.T) {
	s, b := newTestServiceWith(t, func(p *Params) { p.MoveMargin, p.Rebalance, p.RebalanceCooldown = 0.5, true, time.Hour })
	hot, cool := newFakeServer(t, b, "hot"), newFakeServer(t, b, "cool")
	ctx := context.Background()
	for _, r := range []string{"huge", "mid", "tiny"} {
		_, _, err := s.p.Directory.Create(ctx, r, "hot")
		require.NoError(t, err)
	}
	// huge (400 units) needs 600 spare: it does not fit; mid does.
	beat := func() {
		hot.beat(t, cluster.Heartbeat{Stress: 0.95, Spare: 20, RoomLoads: map[string]int{"huge": 400, "mid": 100, "tiny": 5}})
		cool.beat(t, cluster.Heartbeat{Stress: 0.1, Spare: 500})
	}
	sentBefore := time.Now()
	beat()
	require.Eventually(t, func() bool { _, ok := hot.sentTo("mid"); return ok }, 3*time.Second, 20*time.Millisecond)
	// A heartbeat built before the move still lists mid and the stress it
	// made: it moves nothing more.
	for range 3 {
		hot.beat(t, cluster.Heartbeat{Stress: 0.95, Spare: 20, RoomLoads: map[string]int{"huge": 400, "mid": 100, "tiny": 5}, SentAt: sentBefore})
		time.Sleep(100 * time.Millisecond)
	}
	_, tinyMoved := hot.sentTo("tiny")
	require.False(t, tinyMoved, "no second move on the view from before the first")
	for range 5 { // still hot: the next room moves, never mid again (cooldown)
		beat()
		time.Sleep(150 * time.Millisecond)
	}
	_, hugeMoved := hot.sentTo("huge")
	require.False(t, hugeMoved, "a room that does not fit whole elsewhere stays")
	_, tinyMoved = hot.sentTo("tiny")
	require.True(t, tinyMoved, "the next largest that fits moves on a later look")
	r, err := s.p.Directory.Get(ctx, "mid")
	require.NoError(t, err)
	require.Equal(t, cluster.ServerID("cool"), r.Server)
	require.Equal(t, 1, r.Moves, "once per cooldown")

	// Off by default: a hot server keeps its rooms.
	s2, b2 := newTestService(t, false)
	hot2, cool2 := newFakeServer(t, b2, "hot"), newFakeServer(t, b2, "cool")
	_, _, err = s2.p.Directory.Create(ctx, "mid", "hot")
	require.NoError(t, err)
	hot2.beat(t, cluster.Heartbeat{Stress: 0.95, Spare: 20, RoomLoads: map[string]int{"mid": 100}})
	cool2.beat(t, cluster.Heartbeat{Stress: 0.1, Spare: 500})
	time.Sleep(300 * time.Millisecond)
	_, moved := hot2.sentTo("mid")
	require.False(t, moved)
}

func TestWrongKeysAreRateLimitedPerAddress(t *testing.T) {
	s, _ := newTestService(t, false)
	h := s.Handler()
	codes := map[int]int{}
	for range 30 {
		rec, _ := do(t, h, "GET", "/v1/rooms", "wrong-key-0123456789", "")
		codes[rec.Code]++
	}
	require.Equal(t, wire.KeyAttemptsBurst, codes[http.StatusUnauthorized], "a burst of wrong keys is answered 401")
	require.Equal(t, 30-wire.KeyAttemptsBurst, codes[http.StatusTooManyRequests], "then 429, without comparing the key")
	rec, he := do(t, h, "GET", "/v1/rooms", key, "")
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "the address waits, right key or not")
	require.Equal(t, wire.CodeRateLimited, he.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))

	req := httptest.NewRequest("GET", "/v1/rooms", nil)
	req.RemoteAddr = "198.51.100.7:4000"
	req.Header.Set("Authorization", "Bearer "+key)
	other := httptest.NewRecorder()
	h.ServeHTTP(other, req)
	require.Equal(t, http.StatusOK, other.Code, "another address is not affected")
}
