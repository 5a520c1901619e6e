package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/api/service"
	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

const (
	clusterSecret = "cluster-e2e-secret-0123456789abcdef"
	clusterAPIKey = "cluster-e2e-api-key-0123456789"
)

// clusterEnv is what every process of a test cluster shares: the join-token
// secret, the API key and fast heartbeats. dead_after is 3 s, ten missed
// heartbeats: at 1 s, a server or API starved of CPU for a second beside
// the other tests' browsers was declared dead three to five times a run,
// moving rooms under tests that were about something else (a move test's
// room left its new home before the test looked). The tests about failure
// detection ask for fastFailover.
func clusterEnv(extra ...string) []string {
	return append([]string{"VOICECTL_AUTH_SECRET=" + clusterSecret, "VOICECTL_AUTH_API_KEY=" + clusterAPIKey,
		"VOICECTL_CLUSTER_HEARTBEAT=300ms", "VOICECTL_CLUSTER_DEAD_AFTER=3s", "VOICECTL_CLUSTER_CREATE_TIMEOUT=3s"}, extra...)
}

// fastFailover is the dead_after of the tests that kill, freeze or cut a
// server or the broker and measure what follows: give it to every process
// of the test, the API and the servers alike.
const fastFailover = "VOICECTL_CLUSTER_DEAD_AFTER=1s"

// clusterSettings is the cluster.* part of a server's env, for its API.
func clusterSettings(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "VOICECTL_CLUSTER_") {
			out = append(out, kv)
		}
	}
	return out
}

// apiProc is a running `voicectl api`.
type apiProc struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

var apiLine = regexp.MustCompile(`api on (http://\S+)`)

func startAPI(t testing.TB, amqpURL, dataDir string) *apiProc {
	t.Helper()
	return startAPIArgs(t, amqpURL, dataDir)
}

func startAPIArgs(t testing.TB, amqpURL, dataDir string, args ...string) *apiProc {
	t.Helper()
	return startAPIWith(t, amqpURL, dataDir, nil, args...)
}

func startAPIEnv(t testing.TB, amqpURL, dataDir string, env []string) *apiProc {
	t.Helper()
	return startAPIWith(t, amqpURL, dataDir, env)
}

func startAPIWith(t testing.TB, amqpURL, dataDir string, env []string, args ...string) *apiProc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"api", "--http-addr", "127.0.0.1:0", "--amqp-url", amqpURL, "--data-dir", dataDir, "--log-level", "warn"}, args...)...)
	cmd.Env = append(append(os.Environ(), clusterEnv()...), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = labelledStderr(t.Name(), "api")
	require.NoError(t, cmd.Start())
	a := &apiProc{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := apiLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(a.done) }()
	select {
	case a.base = <-found:
	case <-a.done:
		t.Fatal("voicectl api exited at start")
	case <-time.After(40 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("voicectl api printed no address")
	}
	t.Cleanup(func() { a.stop(t) })
	return a
}

func (a *apiProc) stop(t testing.TB) {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(8 * time.Second):
		_ = a.cmd.Process.Kill()
		t.Error("api did not stop within 8s of SIGTERM")
	}
}

// call makes an API request with the API key (or key, when given) and decodes the answer into out.
func (a *apiProc) call(t testing.TB, method, path string, body, out any, key ...string) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	require.NoError(t, err)
	k := clusterAPIKey
	if len(key) > 0 {
		k = key[0]
	}
	req.Header.Set("Authorization", "Bearer "+k)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// callRaw makes an API request with the API key and returns the status and body.
func (a *apiProc) callRaw(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+clusterAPIKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

func (a *apiProc) liveServers(t testing.TB) map[cluster.ServerID]wire.ClusterServer {
	var servers []wire.ClusterServer
	require.Equal(t, http.StatusOK, a.call(t, "GET", "/v1/servers", nil, &servers))
	out := map[cluster.ServerID]wire.ClusterServer{}
	for _, s := range servers {
		if s.State != cluster.ServerDead {
			out[cluster.ServerID(s.ID)] = s
		}
	}
	return out
}

// joinThroughAPI asks the API for a token and connects to the room's server.
func (a *apiProc) joinThroughAPI(t *testing.T, room, identity string) (*client.Client, service.JoinAnswer, error) {
	t.Helper()
	var ja service.JoinAnswer
	if code := a.call(t, "POST", "/v1/rooms/"+room+"/join", service.JoinRequest{Identity: identity}, &ja); code != http.StatusOK {
		return nil, ja, fmt.Errorf("join answered %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Config{URL: ja.SignalURL, Token: ja.Token, Publish: true, Level: 30, LoopbackOnly: true})
	if err != nil {
		return nil, ja, err
	}
	t.Cleanup(c.Close)
	return c, ja, nil
}

func hearEachOther(t *testing.T, a, b *client.Client, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		return a.Received(b.PeerID()) > 20 && b.Received(a.PeerID()) > 20
	}, within, 20*time.Millisecond, "a hears %v, b hears %v", a.ReceivedFrom(), b.ReceivedFrom())
}

func TestClusterAPIPlacesByUsageAndFailsOver(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	var servers []*server
	byID := map[cluster.ServerID]*server{}
	for _, ip := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"} {
		s := startServeEnv(t, clusterEnv("VOICECTL_WORKER_MAX_CONSUMERS=20", "VOICECTL_WORKER_PIPE_HEADROOM=0", fastFailover),
			"--http-addr", ip+":0", "--workers", "1", "--amqp-url", br.URL)
		servers = append(servers, s)
	}
	api := startAPIEnv(t, br.URL, t.TempDir(), []string{fastFailover})
	require.Eventually(t, func() bool {
		clear(byID)
		for id, s := range api.liveServers(t) {
			for _, srv := range servers {
				if strings.HasPrefix(s.SignalURL, srv.base) || srv.base == s.SignalURL {
					byID[id] = srv
				}
			}
		}
		return len(byID) == 3
	}, 15*time.Second, 50*time.Millisecond, "every server live in one listing, its heartbeat naming its signalling URL")

	// Bad input: a stable code each.
	require.Equal(t, http.StatusUnauthorized, api.call(t, "GET", "/v1/rooms", nil, nil, "wrong-key-0123456789"))
	var he wire.HTTPError
	require.Equal(t, http.StatusBadRequest, api.call(t, "POST", "/v1/rooms", map[string]string{"room": strings.Repeat("x", 129)}, &he))
	require.Equal(t, service.CodeBadRoomName, he.Code)
	require.Equal(t, http.StatusBadRequest, api.call(t, "POST", "/v1/rooms", map[string]string{"room": "a\x07b"}, &he))
	require.Equal(t, service.CodeBadRoomName, he.Code)
	require.Equal(t, http.StatusNotFound, api.call(t, "GET", "/v1/rooms/nope", nil, &he))
	require.Equal(t, service.CodeRoomUnknown, he.Code)

	// Idle servers: three rooms land on three servers (the rooms placed since
	// a server's last heartbeat count against it).
	homes := map[cluster.ServerID]string{}
	for _, room := range []string{"alpha", "beta", "gamma"} {
		var ra service.RoomAnswer
		require.Equal(t, http.StatusCreated, api.call(t, "POST", "/v1/rooms", map[string]string{"room": room}, &ra))
		homes[cluster.ServerID(ra.Server)] = room
	}
	require.Len(t, homes, 3, "rooms spread over the idle servers: %v", homes)
	var again service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "POST", "/v1/rooms", map[string]string{"room": "alpha"}, &again), "create is get-or-create")

	// Two peers talk in alpha, joined through the API.
	a, ja, err := api.joinThroughAPI(t, "alpha", "ann")
	require.NoError(t, err)
	b, _, err := api.joinThroughAPI(t, "alpha", "bob")
	require.NoError(t, err)
	hearEachOther(t, a, b, 15*time.Second)
	home := ja.Server
	c, _, err := api.joinThroughAPI(t, "alpha", "cid") // three publishers: 3 + 6 = 9 of 20
	require.NoError(t, err)
	require.NotNil(t, c)

	// With alpha's server loaded, new rooms go to the others.
	require.Eventually(t, func() bool { return api.liveServers(t)[home].Stress >= 0.4 }, 10*time.Second, 50*time.Millisecond)
	for i := 0; i < 4; i++ {
		var ra service.RoomAnswer
		require.Equal(t, http.StatusCreated, api.call(t, "POST", "/v1/rooms", map[string]string{"room": fmt.Sprint("more-", i)}, &ra))
		require.NotEqual(t, string(home), ra.Server, "a new room went to the loaded server")
	}

	// SIGKILL alpha's server: the API declares it dead, re-homes alpha, and
	// the peers that ask the join endpoint again hear each other on the new home.
	killed := time.Now()
	require.NoError(t, byID[home].cmd.Process.Kill())
	var a2, b2 *client.Client
	var ja2 service.JoinAnswer
	require.Eventually(t, func() bool {
		var err error
		if a2 == nil {
			if a2, ja2, err = api.joinThroughAPI(t, "alpha", "ann"); err != nil || ja2.Server == home {
				a2 = nil
				return false
			}
		}
		b2, _, err = api.joinThroughAPI(t, "alpha", "bob")
		return err == nil
	}, 15*time.Second, 100*time.Millisecond)
	hearEachOther(t, a2, b2, 10*time.Second)
	recovered := time.Since(killed)
	var ra service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms/alpha", nil, &ra))
	require.Equal(t, string(ja2.Server), ra.Server, "the directory says the new home")
	require.Equal(t, 1, ra.Moves)
	require.NotContains(t, api.liveServers(t), home)
	t.Logf("SIGKILL of a room's server to both peers hearing each other on its new home: %s", recovered)
	require.Less(t, recovered, 10*time.Second)

	// Delete a room: its server closes it, the directory forgets it.
	require.Equal(t, http.StatusOK, api.call(t, "DELETE", "/v1/rooms/beta", nil, nil))
	require.Equal(t, http.StatusNotFound, api.call(t, "GET", "/v1/rooms/beta", nil, nil))
}

func TestClusterAPIRestartKeepsTheDirectory(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	startServeEnv(t, clusterEnv(), "--http-addr", "127.0.0.11:0", "--workers", "1", "--amqp-url", br.URL)
	dir := t.TempDir()
	api := startAPI(t, br.URL, dir)
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 1 }, 15*time.Second, 50*time.Millisecond)
	var ra service.RoomAnswer
	require.Equal(t, http.StatusCreated, api.call(t, "POST", "/v1/rooms", map[string]string{"room": "kept"}, &ra))
	api.stop(t)

	restarted := startAPI(t, br.URL, dir)
	start := time.Now()
	require.Eventually(t, func() bool { return len(restarted.liveServers(t)) == 1 }, 5*time.Second, 20*time.Millisecond)
	t.Logf("registry back %s after the API's restart", time.Since(start))
	out, err := exec.Command(binary, "servers", "--api", restarted.base, "--api-key", clusterAPIKey, "-o", "json").Output()
	require.NoError(t, err)
	var listed []wire.ClusterServer
	require.NoError(t, json.Unmarshal(out, &listed))
	require.Len(t, listed, 1)
	require.Equal(t, cluster.ServerLive, listed[0].State)
	require.Equal(t, 1, listed[0].Rooms)
	var got service.RoomAnswer
	require.Equal(t, http.StatusOK, restarted.call(t, "GET", "/v1/rooms/kept", nil, &got))
	require.Equal(t, ra.Server, got.Server)
	require.Equal(t, cluster.ServerLive, got.ServerState)
}

// BenchmarkClusterAPICreates is rooms created per second through the API with
// three servers: each create a directory insert and a confirmed request and
// reply over RabbitMQ. Run it alone:
//
//	go test -c -o bin/e2e.test ./e2e && cd e2e && ../scripts/in-netns.sh ../bin/e2e.test -test.run '^$' -test.bench ClusterAPICreates -test.benchtime 300x
func BenchmarkClusterAPICreates(b *testing.B) {
	br := rabbittest.Shared(b)
	for _, ip := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"} {
		startServeEnv(b, clusterEnv(), "--http-addr", ip+":0", "--workers", "1", "--amqp-url", br.URL)
	}
	api := startAPI(b, br.URL, b.TempDir())
	require.Eventually(b, func() bool { return len(api.liveServers(b)) == 3 }, 15*time.Second, 50*time.Millisecond)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code := api.call(b, "POST", "/v1/rooms", map[string]string{"room": fmt.Sprint("bench-", i)}, nil); code != http.StatusCreated {
			b.Fatalf("create %d answered %d", i, code)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

func TestClusterAServerBackFromTheDeadGivesUpItsMovedRooms(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	first := startServeEnv(t, clusterEnv(fastFailover), "--http-addr", "127.0.0.11:0", "--workers", "1", "--amqp-url", br.URL)
	api := startAPIEnv(t, br.URL, t.TempDir(), []string{fastFailover})
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 1 }, 15*time.Second, 50*time.Millisecond)
	a, ja, err := api.joinThroughAPI(t, "zombie", "ann")
	require.NoError(t, err)
	startServeEnv(t, clusterEnv(fastFailover), "--http-addr", "127.0.0.12:0", "--workers", "1", "--amqp-url", br.URL)
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 2 }, 15*time.Second, 50*time.Millisecond)

	// The room's server stops answering (SIGSTOP: alive, but silent) long
	// enough to be declared dead: the room moves to the other server.
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGSTOP))
	require.Eventually(t, func() bool {
		var ra service.RoomAnswer
		return api.call(t, "GET", "/v1/rooms/zombie", nil, &ra) == http.StatusOK && ra.Server != string(ja.Server)
	}, 15*time.Second, 50*time.Millisecond, "the room was not re-homed")

	// It wakes up still hosting the room: the API has it give the room up,
	// and its peer is told the room moved.
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGCONT))
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-a.Events():
			require.True(t, ok, "closed without a reconnect")
			if r, is := ev.(*wire.Reconnect); is {
				require.Equal(t, "moved", r.Reason)
				// Joining the old server now sends the client back to the API.
				var ra service.RoomAnswer
				require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms/zombie", nil, &ra))
				require.NotEqual(t, string(ja.Server), ra.Server)
				return
			}
		case <-deadline:
			t.Fatal("the returning server kept the moved room")
		}
	}
}

func TestClusterAPIThroughARabbitMQRestart(t *testing.T) {
	t.Parallel()
	br := rabbittest.Start(t)
	const createTimeout = 20 * time.Second
	env := []string{"VOICECTL_CLUSTER_DEAD_AFTER=6s", "VOICECTL_CLUSTER_CREATE_TIMEOUT=" + createTimeout.String()}
	// A create asked while the API is off the broker is refused at once. One
	// in flight as the connection drops waits for the bus to come back and
	// is sent again (the same request id: a server makes the room once)
	// until its try of a server ends (create_timeout/4): seen once beside
	// the whole suite, where the broker's restart outlasted it (5.0 s). Each
	// goroutine's later tries were all asked off the broker.
	refusedWithin := func(attempt int) time.Duration {
		if attempt == 1 {
			return createTimeout/4 + 2*time.Second
		}
		return 2 * time.Second
	}
	var servers []*server
	for _, ip := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"} {
		servers = append(servers, startServeEnv(t, append(clusterEnv(), env...), "--http-addr", ip+":0", "--workers", "1", "--amqp-url", br.URL))
	}
	api := startAPIEnv(t, br.URL, t.TempDir(), env)
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 3 }, 15*time.Second, 50*time.Millisecond)

	const n = 50
	type result struct {
		room string
		code int
		took time.Duration
		ans  service.RoomAnswer
	}
	results := make(chan result, n)
	var offBus atomic.Int32
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Duration(i) * 40 * time.Millisecond)
			room := fmt.Sprint("through-", i)
			for attempt := 1; ; attempt++ {
				start := time.Now()
				var ra service.RoomAnswer
				var he wire.HTTPError
				code, body := api.callRaw(t, "POST", "/v1/rooms", map[string]string{"room": room})
				if code == http.StatusServiceUnavailable && json.Unmarshal(body, &he) == nil && he.Code == wire.CodeBusUnavailable {
					// Asked while the API was off the broker: refused at once,
					// and asked again as a client would (sooner than the
					// answer's Retry-After, to keep the test short).
					offBus.Add(1)
					if took := time.Since(start); took > refusedWithin(attempt) {
						results <- result{room, code, took, ra}
						return
					}
					time.Sleep(250 * time.Millisecond)
					continue
				}
				_ = json.Unmarshal(body, &ra)
				results <- result{room, code, time.Since(start), ra}
				return
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	br.Restart(t, time.Second)
	var longest time.Duration
	created := map[string]string{}
	for i := 0; i < n; i++ {
		r := <-results
		require.Contains(t, []int{http.StatusCreated, http.StatusServiceUnavailable}, r.code, "room %s", r.room)
		if r.code == http.StatusServiceUnavailable {
			require.Fail(t, "a create refused too slowly", "room %s: refused after %s", r.room, r.took)
		}
		longest = max(longest, r.took)
		if r.code == http.StatusCreated {
			created[r.room] = r.ans.Server
		}
	}
	require.Len(t, created, n, "every create answered with a room")
	var rooms []service.RoomAnswer
	require.Equal(t, http.StatusOK, api.call(t, "GET", "/v1/rooms", nil, &rooms))
	require.Len(t, rooms, n, "none doubled, none lost")
	for _, r := range rooms {
		require.Equal(t, created[r.Room], r.Server, "room %s", r.Room)
		require.Zero(t, r.Moves, "a broker restart is no server's death: room %s was re-homed", r.Room)
	}
	// A create redelivered to a second server after the restart made it claim
	// the room too: the API has it give the room up, so the servers host n
	// rooms between them, each on its directory home.
	require.Eventually(t, func() bool {
		live := api.liveServers(t)
		total := 0
		for _, s := range live {
			total += s.Rooms
		}
		return len(live) == 3 && total == n
	}, 15*time.Second, 50*time.Millisecond, "servers still host rooms the directory has elsewhere")
	// The servers logged the lost connection, with the URL's password hidden.
	for _, srv := range servers {
		logs := srv.logs.String()
		require.Contains(t, logs, "guest:xxxxx@", "the reconnect was logged")
		require.NotContains(t, logs, "guest:guest@", "the bus URL's password reached a log")
	}
	t.Logf("RabbitMQ restart during %d creates through the API: longest create %s, %d answers bus_unavailable (asked again), none lost, none doubled, none re-homed",
		n, longest, offBus.Load())
}

// TestPrometheusScrapesTheClusterAPI: a real Prometheus scraping the API sees
// the registry's gauges, the re-homing counter and the bus's connection.
func TestPrometheusScrapesTheClusterAPI(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	byURL := map[string]*server{}
	for _, ip := range []string{"127.0.0.11", "127.0.0.12"} {
		s := startServeEnv(t, clusterEnv(fastFailover), "--http-addr", ip+":0", "--workers", "1", "--amqp-url", br.URL)
		byURL[s.base] = s
	}
	api := startAPIEnv(t, br.URL, t.TempDir(), []string{fastFailover})
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 2 }, 15*time.Second, 50*time.Millisecond)
	prom := startPrometheus(t, strings.TrimPrefix(api.base, "http://"))
	var ra service.RoomAnswer
	require.Equal(t, http.StatusCreated, api.call(t, "POST", "/v1/rooms", map[string]string{"room": "scraped"}, &ra))
	// The target's own label is "server", so Prometheus keeps the metric's as exported_server.
	up := fmt.Sprintf(`voicectl_api_server_up{exported_server=%q}`, ra.Server)
	eventually := func(q string, want float64) {
		t.Helper()
		require.Eventually(t, func() bool { v, err := query(prom, q); return err == nil && v == want }, 20*time.Second, 200*time.Millisecond, "%s != %v", q, want)
	}
	eventually(up, 1)
	eventually(`voicectl_bus_connected`, 1)
	eventually(`sum(voicectl_api_request_duration_seconds_count{route="POST /v1/rooms",code="201"})`, 1)
	require.NoError(t, byURL[ra.SignalURL].cmd.Process.Kill())
	eventually(up, 0)
	eventually(`voicectl_api_rooms_rehomed_total`, 1)
	eventually(`count(voicectl_api_server_up == 1)`, 1)
}

func TestClusterAPIAnswersNoCapacityWhenEveryServerIsBusy(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	startServeEnv(t, clusterEnv("VOICECTL_WORKER_MAX_CONSUMERS=10", "VOICECTL_WORKER_PIPE_HEADROOM=0"),
		"--http-addr", "127.0.0.11:0", "--workers", "1", "--amqp-url", br.URL)
	api := startAPI(t, br.URL, t.TempDir())
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 1 }, 15*time.Second, 50*time.Millisecond)
	// Three publishers: 3 producers + 6 consumers = 9 of 10, above high water (0.8).
	for _, name := range []string{"p1", "p2", "p3"} {
		_, _, err := api.joinThroughAPI(t, "busy", name)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		for _, s := range api.liveServers(t) {
			return s.Stress > 0.8 && !s.Accepting
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)
	start := time.Now()
	var he wire.HTTPError
	require.Equal(t, http.StatusServiceUnavailable, api.call(t, "POST", "/v1/rooms", map[string]string{"room": "one-too-many"}, &he))
	took := time.Since(start)
	require.Equal(t, wire.CodeNoCapacity, he.Code)
	require.Less(t, took, 3*time.Second+time.Second, "answered within cluster.create_timeout (3s)")
	require.Equal(t, http.StatusNotFound, api.call(t, "GET", "/v1/rooms/one-too-many", nil, nil), "nothing half-made")
	t.Logf("no_capacity answered after %s", took)
}
