package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/bus"
	busamqp "github.com/voicectl/voicectl/server/bus/amqp"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/wire"
)

func dialBus(t *testing.T, url, name string) bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := busamqp.Dial(ctx, busamqp.Params{URL: url, Name: name,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// clusterServer is one `serve` of a test cluster: its own loopback address,
// ports, data dir and server id.
type clusterServer struct {
	*harness
	id      cluster.ServerID
	dataDir string
}

func startClusterServer(t *testing.T, br *rabbittest.Broker, ip string, cfg config.Config, dataDir string) *clusterServer {
	t.Helper()
	id, err := cluster.LoadOrCreateServerID(dataDir)
	require.NoError(t, err)
	b := dialBus(t, br.URL, "serve-"+ip)
	l, err := net.Listen("tcp", ip+":0")
	require.NoError(t, err)
	cfg.Bus.URL = br.URL
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("host", ip)
	c, err := New(Params{Config: cfg, Logger: log, WorkerCmd: testWorkerCmd, Listener: l, ServerID: id, Bus: b})
	require.NoError(t, err)
	stop, err := c.Start(context.Background())
	require.NoError(t, err)
	t.Cleanup(stop)
	return &clusterServer{harness: &harness{t: t, c: c, url: "http://" + l.Addr().String(), stop: stop}, id: id, dataDir: dataDir}
}

func clusterConfig(capacity int) config.Config {
	cfg := testConfig(1)
	cfg.Worker.MaxConsumers = capacity
	cfg.Worker.PipeHeadroom = 0
	return cfg
}

func waitAccepting(t *testing.T, want bool, servers ...*clusterServer) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, s := range servers {
			if s.c.agent.Accepting() != want {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
}

func createShared(t *testing.T, api bus.Bus, room string) cluster.RoomInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := bus.CreateRoom.Call(ctx, api, bus.ToQueue(bus.RoomsQueue), "api", "", cluster.RoomCreate{Room: room})
	require.NoError(t, err)
	return info
}

func TestClusterRoomsThroughTheSharedQueue(t *testing.T) {
	br := rabbittest.Shared(t)
	servers := []*clusterServer{
		startClusterServer(t, br, "127.0.0.11", clusterConfig(10), t.TempDir()),
		startClusterServer(t, br, "127.0.0.12", clusterConfig(10), t.TempDir()),
		startClusterServer(t, br, "127.0.0.13", clusterConfig(10), t.TempDir()),
	}
	byID := map[cluster.ServerID]*clusterServer{}
	for _, s := range servers {
		byID[s.id] = s
	}
	waitAccepting(t, true, servers...)
	api := dialBus(t, br.URL, "api")

	// The queue spreads the rooms over the three. Not strictly round-robin:
	// a server acks a create only once its reply is confirmed, and RabbitMQ
	// skips a consumer whose one unacked delivery (prefetch 1) is still out,
	// so on a loaded host the next create may pass it by (seen in CI: 4/3/2).
	got := map[cluster.ServerID]int{}
	for i := 0; i < 9; i++ {
		info := createShared(t, api, fmt.Sprint("rr-", i))
		require.Equal(t, byID[info.Server].url, info.SignalURL)
		got[info.Server]++
	}
	for _, s := range servers {
		require.NotZero(t, got[s.id], "server %s took no room: %v", s.id, got)
	}

	// A room is joined on its own server only; another server sends the client back to the API.
	a := servers[0]
	info, err := bus.CreateRoom.Call(context.Background(), api, bus.ToServer(a.id), "api", "", cluster.RoomCreate{Room: "hot"})
	require.NoError(t, err)
	require.Equal(t, a.id, info.Server)
	_, err = servers[1].tryConnect("hot", "x", true)
	var he *client.HTTPError
	require.True(t, errors.As(err, &he), "%v", err)
	require.Equal(t, wire.CodeWrongServer, he.Body.Code)

	// Push A over high water (capacity 10: 3 publishers make 3 producers + 6 consumers = 9 > 8).
	pubs := []*client.Client{a.connect("hot", "p1", true), a.connect("hot", "p2", true), a.connect("hot", "p3", true)}
	waitAccepting(t, false, a)
	for i := 0; i < 4; i++ {
		info := createShared(t, api, fmt.Sprint("busy-", i))
		require.NotEqual(t, a.id, info.Server, "a server above high water took a room")
	}
	// Below low water (one publisher: load 1 < 7) it takes rooms again.
	pubs[1].Close()
	pubs[2].Close()
	waitAccepting(t, true, a)
	got = map[cluster.ServerID]int{}
	for i := 0; i < 6; i++ {
		got[createShared(t, api, fmt.Sprint("again-", i)).Server]++
	}
	require.Positive(t, got[a.id], "A takes rooms again below low water: %v", got)
}

func TestClusterHeartbeatsCarryUsage(t *testing.T) {
	br := rabbittest.Shared(t)
	s := startClusterServer(t, br, "127.0.0.11", clusterConfig(10), t.TempDir())
	api := dialBus(t, br.URL, "api")
	beats := make(chan bus.Envelope, 16)
	_, err := api.Subscribe("heartbeat.*", func(e bus.Envelope) {
		select {
		case beats <- e:
		default:
		}
	})
	require.NoError(t, err)
	_, err = bus.CreateRoom.Call(context.Background(), api, bus.ToServer(s.id), "api", "", cluster.RoomCreate{Room: "r"})
	require.NoError(t, err)
	s.connect("r", "p1", true)
	s.connect("r", "p2", true)
	require.Eventually(t, func() bool {
		e := <-beats
		var hb cluster.Heartbeat
		require.NoError(t, json.Unmarshal(e.Body, &hb))
		require.Equal(t, s.id, hb.Server)
		return hb.Peers == 2 && len(hb.Rooms) == 1 && hb.Rooms[0] == "r" && hb.Stress >= 0.4 && len(hb.Workers) == 1 && hb.Accepting
	}, 10*time.Second, time.Millisecond)
}

func TestClusterServerRestartedWithItsDataDirKeepsItsIdAndQueue(t *testing.T) {
	br := rabbittest.Shared(t)
	dir := t.TempDir()
	first := startClusterServer(t, br, "127.0.0.11", clusterConfig(10), dir)
	id := first.id
	first.stop()
	api := dialBus(t, br.URL, "api")
	// A command sent while the server is down waits in its own durable queue.
	done := make(chan error, 1)
	var info cluster.RoomInfo
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		info, err = bus.CreateRoom.Call(ctx, api, bus.ToServer(id), "api", "", cluster.RoomCreate{Room: "waited"})
		done <- err
	}()
	require.Eventually(t, func() bool {
		ready, found, err := busamqp.QueueReady(br.URL, bus.ServerQueue(id))
		return err == nil && found && ready == 1
	}, 10*time.Second, 50*time.Millisecond)
	again := startClusterServer(t, br, "127.0.0.11", clusterConfig(10), dir)
	require.Equal(t, id, again.id, "the same data dir, the same id")
	require.NoError(t, <-done)
	require.Equal(t, id, info.Server)
	require.True(t, again.c.host.Owns("waited"))
}
