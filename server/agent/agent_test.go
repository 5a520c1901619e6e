package agent

import (
	"context"
	"encoding/json"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const self cluster.ServerID = "self"

// rig is one agent on the in-process bus, with a stress the test sets and
// what its callbacks heard.
type rig struct {
	a      *Agent
	b      *bus.Local
	host   *roomhost.Host
	stress atomic.Uint64 // math.Float64bits
	drain  atomic.Bool

	mu       sync.Mutex
	lost     []cluster.ServerID
	draining []cluster.ServerID
	drains   []time.Duration
}

func (r *rig) setStress(s float64) { r.stress.Store(math.Float64bits(s)) }

func (r *rig) heard() (lost, draining []cluster.ServerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cluster.ServerID(nil), r.lost...), append([]cluster.ServerID(nil), r.draining...)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{b: bus.NewLocal(), host: roomhost.New(roomhost.Params{RequireClaim: true})}
	r.setStress(0.1)
	a, err := Start(Params{Bus: r.b, ServerID: self, Host: r.host, SignalURL: "http://self.test",
		Usage: func() cluster.Heartbeat {
			return cluster.Heartbeat{Stress: math.Float64frombits(r.stress.Load()), Draining: r.drain.Load()}
		},
		HighWater: 0.8, LowWater: 0.6, Heartbeat: 50 * time.Millisecond, CheckEvery: 10 * time.Millisecond,
		DeadAfter: time.Second, // well above a loaded machine's stalls, so a beating server never seems dead
		OnServerLost: func(id cluster.ServerID) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.lost = append(r.lost, id)
		},
		OnServerDraining: func(id cluster.ServerID) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.draining = append(r.draining, id)
		},
		Drain: func(d time.Duration) time.Time {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.drains = append(r.drains, d)
			return time.Now().Add(d)
		},
	})
	require.NoError(t, err)
	r.a = a
	// Stop before the bus closes: cleanups run last in, first out.
	t.Cleanup(func() { _ = r.b.Close() })
	t.Cleanup(a.Stop)
	return r
}

// beat publishes a heartbeat of another server, from from.
func (r *rig) beat(t *testing.T, from cluster.ServerID, hb cluster.Heartbeat) {
	t.Helper()
	hb.SentAt = time.Now()
	body, err := json.Marshal(hb)
	require.NoError(t, err)
	require.NoError(t, r.b.Publish(context.Background(), bus.HeartbeatKey(from), bus.Envelope{Type: bus.TypeHeartbeat, From: from, Body: body}))
}

func call[Req, Resp any](t *testing.T, r *rig, m bus.Method[Req, Resp], from cluster.ServerID, req Req) (Resp, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return m.Call(ctx, r.b, bus.ToServer(self), from, "", req)
}

func requireCode(t *testing.T, err error, code wire.Code) {
	t.Helper()
	var be *bus.Error
	require.ErrorAs(t, err, &be)
	require.Equal(t, code, be.Code, be.Message)
	require.Equal(t, code, wire.CodeOf(err), "the asker reads the code with the one mapping")
}

func TestHeartbeatsSayWhatTheServerHosts(t *testing.T) {
	r := newRig(t)
	beats := make(chan cluster.Heartbeat, 64)
	sub, err := r.b.Subscribe(bus.HeartbeatPattern, func(e bus.Envelope) {
		var hb cluster.Heartbeat
		if e.Type == bus.TypeHeartbeat && e.From == self && json.Unmarshal(e.Body, &hb) == nil {
			select {
			case beats <- hb:
			default:
			}
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Cancel() })
	// The create below comes on the server's own queue, which is served
	// before the shared queue is first consumed: wait for that first.
	require.Eventually(t, r.a.Accepting, 2*time.Second, 5*time.Millisecond)

	info, err := call(t, r, bus.CreateRoom, "api", cluster.RoomCreate{Room: "standup"})
	require.NoError(t, err)
	require.Equal(t, cluster.RoomInfo{Room: "standup", Server: self, SignalURL: "http://self.test"}, info)
	deadline := time.After(2 * time.Second)
	for {
		select {
		case hb := <-beats:
			require.Equal(t, self, hb.Server)
			require.Equal(t, "http://self.test", hb.SignalURL)
			require.False(t, hb.SentAt.IsZero())
			if len(hb.Rooms) == 0 {
				continue // sent before the create
			}
			require.Equal(t, []string{"standup"}, hb.Rooms)
			require.Equal(t, map[string]int{"standup": 0}, hb.RoomLoads, "an empty room costs nothing yet")
			require.True(t, hb.Accepting, "below high water it takes new rooms")
			return
		case <-deadline:
			t.Fatal("no heartbeat with the room")
		}
	}
}

func TestTheSharedQueueIsServedBetweenHighAndLowWater(t *testing.T) {
	r := newRig(t)
	require.Eventually(t, r.a.Accepting, 2*time.Second, 5*time.Millisecond, "below high water: consuming")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := bus.CreateRoom.Call(ctx, r.b, bus.ToQueue(bus.RoomsQueue), "api", "", cluster.RoomCreate{Room: "from-queue"})
	require.NoError(t, err)
	require.Equal(t, self, info.Server)
	require.True(t, r.host.Owns("from-queue"))

	r.setStress(0.9)
	require.Eventually(t, func() bool { return !r.a.Accepting() }, 2*time.Second, 5*time.Millisecond, "above high water: stops")
	short, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = bus.CreateRoom.Call(short, r.b, bus.ToQueue(bus.RoomsQueue), "api", "", cluster.RoomCreate{Room: "waits"})
	scancel()
	require.Error(t, err, "nobody consumes the shared queue")
	_, err = call(t, r, bus.CreateRoom, "api", cluster.RoomCreate{Room: "direct"})
	requireCode(t, err, bus.CodeNoCapacity)
	_, err = call(t, r, bus.CreateRoom, "api", cluster.RoomCreate{Room: "from-queue"})
	require.NoError(t, err, "a room it hosts is answered again, whatever the stress")

	r.setStress(0.7) // between the marks: stays off
	time.Sleep(100 * time.Millisecond)
	require.False(t, r.a.Accepting(), "no flapping between low and high water")
	r.setStress(0.5)
	require.Eventually(t, r.a.Accepting, 2*time.Second, 5*time.Millisecond, "below low water: again")

	r.drain.Store(true)
	require.Eventually(t, func() bool { return !r.a.Accepting() }, 2*time.Second, 5*time.Millisecond, "a draining server takes nothing new")
	_, err = call(t, r, bus.CreateRoom, "api", cluster.RoomCreate{Room: "new"})
	requireCode(t, err, bus.CodeNoCapacity)
}

func TestOtherServersLiveDrainAndDie(t *testing.T) {
	r := newRig(t)
	r.beat(t, "other", cluster.Heartbeat{Server: "other", Stress: 0.2})
	r.beat(t, "quiet", cluster.Heartbeat{Server: "quiet", Stress: 0.1})
	r.beat(t, "liar", cluster.Heartbeat{Server: "forged", Stress: 0}) // sender and body disagree
	r.beat(t, self, cluster.Heartbeat{Server: self, Stress: 0})       // its own
	r.beat(t, "hot", cluster.Heartbeat{Server: "hot", Stress: 0.85})  // above high water
	require.Eventually(t, func() bool { return r.a.Alive("other") && r.a.Alive("quiet") }, time.Second, 5*time.Millisecond)
	require.False(t, r.a.Alive("forged"), "a forged heartbeat is dropped")
	require.False(t, r.a.Alive(self))
	require.Equal(t, []cluster.ServerID{"quiet", "other"}, r.a.Candidates(0.8), "least stressed first; never itself nor one above high water")

	// Relays placed since a heartbeat count, as the API counts rooms.
	for range 20 {
		r.a.Placed("quiet") // 0.1 + 20 × 0.02 = 0.5
	}
	require.Equal(t, []cluster.ServerID{"other", "quiet"}, r.a.Candidates(0.8))

	// other keeps beating and begins to drain; quiet and hot fall silent.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(40 * time.Millisecond)
		defer tk.Stop()
		for {
			// Not r.beat: require must not fail a test from another goroutine.
			hb, _ := json.Marshal(cluster.Heartbeat{Server: "other", Stress: 0.2, Draining: true, SentAt: time.Now()})
			if err := r.b.Publish(context.Background(), bus.HeartbeatKey("other"), bus.Envelope{Type: bus.TypeHeartbeat, From: "other", Body: hb}); err != nil {
				t.Errorf("heartbeat of other: %v", err)
				return
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	require.Eventually(t, func() bool { _, d := r.heard(); return len(d) > 0 }, time.Second, 5*time.Millisecond)
	require.True(t, r.a.Draining("other"))
	require.Eventually(t, func() bool { l, _ := r.heard(); return len(l) == 2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	lost, draining := r.heard()
	require.ElementsMatch(t, []cluster.ServerID{"hot", "quiet"}, lost, "each death is heard once")
	require.Equal(t, []cluster.ServerID{"other"}, draining, "a drain is heard once")
	require.False(t, r.a.Alive("quiet"))
	require.True(t, r.a.Alive("other"))
	require.Empty(t, r.a.Candidates(0.8), "a draining server is asked for nothing")
}

func TestHandlersAnswerWithStableCodes(t *testing.T) {
	r := newRig(t)
	_, err := call(t, r, bus.CreateRoom, "api", cluster.RoomCreate{})
	requireCode(t, err, bus.CodeBadRequest)
	_, err = bus.CreateRoom.Call(context.Background(), r.b, bus.Destination{Exchange: bus.DirectExchange, Key: string(self), Server: "someone-else"}, "api", "", cluster.RoomCreate{Room: "x"})
	requireCode(t, err, bus.CodeWrongServer)

	res, err := call(t, r, bus.CloseRoom, "api", cluster.RoomRef{Room: "nowhere"})
	require.NoError(t, err)
	require.True(t, res.OK, "closing a room with no peers is done")
	_, err = call(t, r, bus.KickPeer, "api", cluster.PeerCommand{Room: "nowhere", Peer: "p"})
	requireCode(t, err, bus.CodeNotFound)
	_, err = call(t, r, bus.MutePeer, "api", cluster.PeerCommand{Room: "nowhere", Peer: "p", Muted: true})
	requireCode(t, err, bus.CodeNotFound)
	_, err = call(t, r, bus.MoveRoom, "api", cluster.RoomMove{Room: "r"})
	requireCode(t, err, bus.CodeBadRequest)
	_, err = call(t, r, bus.CreateRoom, "api", cluster.RoomCreate{Room: "mv"})
	require.NoError(t, err)
	before := time.Now()
	res, err = call(t, r, bus.MoveRoom, "api", cluster.RoomMove{Room: "mv", To: "other", SignalURL: "http://other.test"})
	require.NoError(t, err)
	require.True(t, res.OK)
	require.False(t, res.At.Before(before), "the answer says when the room was given up")
	require.NotContains(t, r.host.Claimed(), "mv", "and it was, before the answer")
	_, err = call(t, r, bus.CallWorker, "owner", bus.WorkerCall{})
	requireCode(t, err, bus.CodeBadRequest)
	_, err = call(t, r, bus.ReleaseRelay, "owner", cluster.RelayRelease{Room: "r", Peer: "p"})
	requireCode(t, err, bus.CodeBadRequest)
	res, err = call(t, r, bus.ReleaseRelay, "owner", cluster.RelayRelease{Room: "r", Peer: "p", Try: "1"})
	require.NoError(t, err)
	require.True(t, res.OK, "releasing what is not reserved is done")
	require.Zero(t, res.Peers, "nothing was reserved")

	_, err = call(t, r, bus.Drain, "api", cluster.DrainRequest{Deadline: -time.Second})
	requireCode(t, err, bus.CodeBadRequest)
	ans, err := call(t, r, bus.Drain, "api", cluster.DrainRequest{Deadline: time.Minute})
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Minute), ans.Until, 5*time.Second)
	r.mu.Lock()
	require.Equal(t, []time.Duration{time.Minute}, r.drains)
	r.mu.Unlock()

	_, err = call(t, r, bus.PlaceRelay, "owner", cluster.RelayPlace{Room: "r", Owner: "not-the-sender"})
	requireCode(t, err, bus.CodeBadRequest)
	_, err = call(t, r, bus.PlaceRelay, self, cluster.RelayPlace{Room: "r", Owner: self})
	requireCode(t, err, bus.CodeBadRequest)
	r.setStress(0.95)
	_, err = call(t, r, bus.PlaceRelay, "owner", cluster.RelayPlace{Room: "r", Owner: "owner"})
	requireCode(t, err, bus.CodeNoCapacity)
	require.True(t, r.a.Alive("owner"), "an owner that asks is alive from then on")
	require.Empty(t, r.a.Candidates(1), "but nothing is placed on it before its heartbeat says its load")
	require.Eventually(t, func() bool { l, _ := r.heard(); return len(l) == 1 }, 2*time.Second, 5*time.Millisecond,
		"its silence after that is noticed")
	lost, _ := r.heard()
	require.Equal(t, []cluster.ServerID{"owner"}, lost)
}

func TestRoomPeersAnswersTheRoomOrAnEmptyOne(t *testing.T) {
	r := newRig(t)
	d, err := call(t, r, bus.RoomPeers, "api", cluster.RoomRef{Room: "nowhere"})
	require.NoError(t, err, "a room in the directory that nobody joined yet")
	require.Equal(t, "nowhere", d.ID)
	require.NotNil(t, d.PeerList)
	require.Empty(t, d.PeerList)
}
