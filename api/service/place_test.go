package service

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
)

// slowServer takes rooms only once the test opens its gate, and says which
// creates reached it meanwhile.
type slowServer struct {
	id      cluster.ServerID
	mu      sync.Mutex
	arrived []string
}

func newSlowServer(t *testing.T, b *bus.Local, id string, gate <-chan struct{}) *slowServer {
	s := &slowServer{id: cluster.ServerID(id)}
	m := bus.NewMux(s.id)
	bus.Handle(m, bus.CreateRoom, func(_ context.Context, _ bus.Envelope, r cluster.RoomCreate) (cluster.RoomInfo, error) {
		s.mu.Lock()
		s.arrived = append(s.arrived, r.Room)
		s.mu.Unlock()
		<-gate
		return cluster.RoomInfo{Room: r.Room, Server: s.id, SignalURL: "http://" + id + ".test"}, nil
	})
	sub, err := b.Serve(bus.ServerQueue(s.id), m.Serve)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Cancel() })
	return s
}

func (s *slowServer) rooms() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrived)
}

func TestConcurrentCreatesSpreadBeforeTheirAnswers(t *testing.T) {
	s, b := newTestServiceWith(t, func(p *Params) {
		p.CreateTimeout = 20 * time.Second // 5 s per server tried: longer than the test waits for the spread
		p.Heartbeat = time.Hour            // no heartbeat tells the registry anything meanwhile
		p.DeadAfter = time.Hour
	})
	h := s.Handler()
	gate := make(chan struct{})
	var servers []*slowServer
	for _, id := range []string{"a", "b", "c"} {
		servers = append(servers, newSlowServer(t, b, id, gate))
		body := fmt.Sprintf(`{"server": %q, "signal_url": "http://%s.test"}`, id, id)
		require.NoError(t, b.Publish(context.Background(), bus.HeartbeatKey(cluster.ServerID(id)),
			bus.Envelope{Type: bus.TypeHeartbeat, From: cluster.ServerID(id), Body: []byte(body)}))
	}
	require.Len(t, s.reg.Snapshot(), 3)
	// Opened on failure too, before the servers' subscriptions end (a
	// subscription ends once its request is served).
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open)

	codes := make(chan int, 3)
	for i := range 3 {
		go func() {
			rec, _ := do(t, h, "POST", "/v1/rooms", key, fmt.Sprintf(`{"room": "burst-%d"}`, i))
			codes <- rec.Code
		}()
	}
	// Each create reaches its own server while none has answered: the ones
	// in flight count against their server at once.
	require.Eventually(t, func() bool {
		return servers[0].rooms() == 1 && servers[1].rooms() == 1 && servers[2].rooms() == 1
	}, 3*time.Second, 10*time.Millisecond, "three creates in flight on three servers")
	for _, id := range []cluster.ServerID{"a", "b", "c"} {
		srv, _ := s.reg.Get(id)
		require.Equal(t, 1, srv.Placing, "server %s", id)
	}
	open()
	for range 3 {
		require.Equal(t, http.StatusCreated, <-codes)
	}
	for _, id := range []cluster.ServerID{"a", "b", "c"} {
		srv, _ := s.reg.Get(id)
		require.Equal(t, 0, srv.Placing, "server %s answered", id)
		require.Equal(t, 1, srv.PlacedSince, "server %s", id)
	}
}
