package control

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
	"github.com/voicectl/voicectl/server/worker"
)

const workerEnv = "_VOICECTL_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(worker.Main(slog.LevelWarn))
	}
	// Go reads SSL_CERT_FILE once, at the process's first certificate
	// check, so it is set before any test runs: the TURN/TLS tests' client
	// trusts the test certificate whichever test verified a chain first.
	dir, err := os.MkdirTemp("", "voicectl-control-test")
	if err != nil {
		panic(err)
	}
	certPEM, _ := testCert()
	certFile := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", certFile)
	goleak.VerifyTestMain(rabbittest.StoppingShared(m), goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

var nextPort atomic.Int32

func init() { nextPort.Store(41000) }

const (
	testSecret   = "integration-test-secret-0123456789"
	testAdminKey = "integration-admin-key-0123456789"
)

type harness struct {
	t    *testing.T
	c    *Control
	url  string
	stop func()
}

func testConfig(workers int) config.Config {
	var cfg config.Config
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.RTC.Port = int(nextPort.Add(10))
	cfg.RTC.Loopback = true
	cfg.RTC.ICEFailedAfter = 30 * time.Second
	cfg.Worker.Count = workers
	cfg.Worker.RestartBackoff = 100 * time.Millisecond
	cfg.Worker.HangTimeout = 10 * time.Second
	cfg.Auth.Secret = testSecret
	cfg.Auth.DevTokenTTL = time.Hour
	cfg.Signal = config.Signal{MaxMessageBytes: 64 << 10, MaxConnections: 10000, MaxConnectionsPerAddress: 256,
		MaxMessagesPerSecond: 50, JoinTimeout: 30 * time.Second, MaxSDPBytes: 32 << 10, MaxCandidates: 100, ReadHeaderTimeout: 10 * time.Second}
	cfg.Log.Level = "info"
	cfg.Log.Format = "text"
	cfg.Auth.AdminKey = testAdminKey
	cfg.Worker.MaxConsumers = 1000
	cfg.Worker.MaxProducers = 200
	cfg.Worker.PipeHeadroom = 0.1
	cfg.Worker.PipeListenIP = "127.0.0.1"
	cfg.Cluster.HighWater, cfg.Cluster.LowWater = 0.8, 0.7
	// dead_after 3 s (a lease of 2.5 s): with 1.5 s (a 1 s lease) a server
	// starved beside the suite let its lease lapse and refused a join
	// (409 wrong_server) in a test about heartbeats.
	cfg.Cluster.Heartbeat, cfg.Cluster.DeadAfter, cfg.Cluster.CreateTimeout = 500*time.Millisecond, 3*time.Second, 3*time.Second
	return cfg
}

func testWorkerCmd(int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1", "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	return cmd
}

func startHarness(t *testing.T, cfg config.Config) *harness {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	require.NoError(t, cfg.Validate())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := New(Params{Config: cfg, Logger: log, WorkerCmd: testWorkerCmd, Listener: l})
	require.NoError(t, err)
	stop, err := c.Start(context.Background())
	require.NoError(t, err)
	h := &harness{t: t, c: c, url: "http://" + l.Addr().String(), stop: stop}
	t.Cleanup(stop)
	return h
}

func (h *harness) token(room, identity string, publish bool, ttl time.Duration) string {
	tok, err := auth.Sign([]byte(testSecret), auth.Grant{Room: room, Identity: identity, Publish: publish, Expires: time.Now().Add(ttl)})
	require.NoError(h.t, err)
	return tok
}

func (h *harness) connect(room, identity string, publish bool) *client.Client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token(room, identity, publish, time.Hour), Publish: publish, Level: 30, LoopbackOnly: true})
	require.NoError(h.t, err)
	h.t.Cleanup(c.Close)
	return c
}

func (h *harness) admin() *admin.Client {
	c, err := admin.New(h.url, testAdminKey)
	require.NoError(h.t, err)
	return c
}

func (h *harness) load(worker int) ipc.Load {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := h.c.sup.Client(h.c.sup.Ref(worker)).Load(ctx)
	require.NoError(h.t, err)
	return l
}

// hearsAll waits until every client has received at least min packets from every other.
func hearsAll(t *testing.T, clients []*client.Client, min uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, a := range clients {
			for _, b := range clients {
				if a != b && a.Received(b.PeerID()) < min {
					return false
				}
			}
		}
		return true
	}, 15*time.Second, 50*time.Millisecond, "not every peer heard every other: %s", describe(clients))
}

func describe(clients []*client.Client) string {
	s := ""
	for _, c := range clients {
		s += fmt.Sprintf("%s<-%v ", c.PeerID(), c.ReceivedFrom())
	}
	return s
}

// quietFrom waits until c has heard nothing from peer for 200 ms (what was in
// flight has arrived) and returns how much it heard.
func quietFrom(t *testing.T, c *client.Client, peer string) uint64 {
	t.Helper()
	last, since := c.Received(peer), time.Now()
	require.Eventually(t, func() bool {
		if n := c.Received(peer); n != last {
			last, since = n, time.Now()
			return false
		}
		return time.Since(since) >= 200*time.Millisecond
	}, 10*time.Second, 20*time.Millisecond, "%s keeps hearing %s", c.PeerID(), peer)
	return last
}

// waitEvent returns the first event of type T for which ok holds.
func waitEvent[T any](t *testing.T, c *client.Client, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, open := <-c.Events():
			if !open {
				t.Fatalf("connection closed while waiting for %T", *new(T))
			}
			if m, is := ev.(T); is && ok(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %T", *new(T))
		}
	}
}
