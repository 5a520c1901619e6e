package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/api/service"
	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/webhook"
	"github.com/voicectl/voicectl/server/webhook/webhooktest"
)

const webhookKey = "e2e-webhook-key-0123456789abcdef"

// receiverOutage is how long the cluster webhook test keeps its receiver
// down.
const receiverOutage = 20 * time.Second

// TestClusterWebhooksSurviveAnAPIRestartAndAReceiverOutage: a server in a
// cluster publishes its rooms' events on RabbitMQ (confirmed) and the API
// delivers them from the durable queue. The receiver goes down mid-call for
// 20 s (the API holds the event, unacked, retrying every 100-500 ms:
// webhooks.retry_min/max, short for the test), the API is stopped with it in
// hand, the call's last events wait in the queue with no API, and a new API
// retries them all; once the receiver is up every event of the call has
// arrived, each once by id, in the room's order. Then `voicectl webhooks verify` takes a real request and
// refuses it altered (forged) and past a 1 s window (replayed).
func TestClusterWebhooksSurviveAnAPIRestartAndAReceiverOutage(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	rcv := webhooktest.New([]byte(webhookKey))
	srv := rcv.Start()
	defer srv.Close()
	env := []string{"VOICECTL_WEBHOOKS_URLS=" + srv.URL, "VOICECTL_WEBHOOKS_KEY=" + webhookKey,
		"VOICECTL_WEBHOOKS_RETRY_MIN=100ms", "VOICECTL_WEBHOOKS_RETRY_MAX=500ms"}
	startServeEnv(t, clusterEnv(env...), "--http-addr", "127.0.0.31:0", "--workers", "1", "--amqp-url", br.URL)
	dir := t.TempDir()
	api := startAPIEnv(t, br.URL, dir, env)
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 1 }, 15*time.Second, 50*time.Millisecond)
	var ra service.RoomAnswer
	require.Equal(t, http.StatusCreated, api.call(t, "POST", "/v1/rooms", map[string]string{"room": "hooks"}, &ra))
	alice, _, err := api.joinThroughAPI(t, "hooks", "alice")
	require.NoError(t, err)
	bob, _, err := api.joinThroughAPI(t, "hooks", "bob")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(rcv.Lines("hooks")) == 3 }, 15*time.Second, 20*time.Millisecond, "got %v", rcv.Lines("hooks"))

	// The receiver goes down: bob's participant_left is held by the API,
	// unacked, while it retries; then the API stops with it in hand.
	rcv.SetDown(true)
	downAt := time.Now()
	bob.Close()
	turned := func(n int) func() bool {
		return func() bool {
			_, _, _, got := rcv.Stats()
			return got >= n
		}
	}
	require.Eventually(t, turned(2), 15*time.Second, 20*time.Millisecond, "the API retries against the receiver while it is down")
	// The receiver stays down for 20 s of the call: forty tries and more at
	// retry_max, the backoff long at its cap, which an outage of an hour
	// would only repeat; the API keeps retrying what it holds, alice still
	// talking.
	time.Sleep(time.Until(downAt.Add(receiverOutage)))
	api.stop(t)
	alice.Close() // its events wait in the queue: no API
	_, _, _, before := rcv.Stats()
	api = startAPIEnv(t, br.URL, dir, env)
	require.Eventually(t, turned(before+2), 15*time.Second, 20*time.Millisecond, "the restarted API retries what the last one held")
	rcv.SetDown(false)
	want := []string{"room_started", "participant_joined alice", "participant_joined bob",
		"participant_left bob left", "participant_left alice left", "room_finished"}
	require.Eventually(t, func() bool { return len(rcv.Lines("hooks")) >= len(want) }, 15*time.Second, 20*time.Millisecond, "got %v", rcv.Lines("hooks"))
	require.Equal(t, want, rcv.Lines("hooks"))
	arrivals, repeats, refused, _ := rcv.Stats()
	require.Zero(t, refused)
	t.Logf("%d deliveries, %d of them repeats of an id (the receiver deduplicates)", arrivals, repeats)

	body, sig := rcv.First()
	verify := func(body []byte, args ...string) (string, error) {
		cmd := exec.Command(binary, append([]string{"webhooks", "verify", "--key", webhookKey, "--signature", sig}, args...)...)
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := verify(body)
	require.NoError(t, err, out)
	require.Contains(t, out, "valid: room_started")
	out, err = verify(bytes.Replace(body, []byte("hooks"), []byte("other"), 1))
	require.Error(t, err)
	require.Equal(t, 1, err.(*exec.ExitError).ExitCode())
	require.Contains(t, out, "forged")
	// Signed when it was first sent, seconds ago: outside a 1 s window.
	require.Eventually(t, func() bool {
		out, err = verify(body, "--tolerance", "1s")
		return err != nil
	}, 5*time.Second, 200*time.Millisecond)
	require.Contains(t, out, "replay window")
}

// TestWebhooksListenPrintsAServersEvents: `voicectl serve` posts to
// `voicectl webhooks listen`, piped: one JSON object per line for each
// event of a short call, signed with the shared key (the listener checks).
func TestWebhooksListenPrintsAServersEvents(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	listen := exec.Command(binary, "webhooks", "listen", "--addr", addr)
	listen.Env = append(os.Environ(), "VOICECTL_WEBHOOKS_KEY="+webhookKey)
	stdout, err := listen.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	listen.Stderr = &stderr
	require.NoError(t, listen.Start())
	t.Cleanup(func() { _ = listen.Process.Kill(); _ = listen.Wait() })
	var mu sync.Mutex
	var events []webhook.Event
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev webhook.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				mu.Lock()
				events = append(events, ev)
				mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "Listening for webhooks") }, 10*time.Second, 20*time.Millisecond)

	s := startServeEnv(t, []string{"VOICECTL_WEBHOOKS_URLS=http://" + addr + "/", "VOICECTL_WEBHOOKS_KEY=" + webhookKey}, "--workers", "1")
	alice := devJoin(t, s, "listened", "alice", true)
	alice.Close()
	types := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, ev := range events {
			out = append(out, ev.Type)
		}
		return out
	}
	want := []string{webhook.RoomStarted, webhook.ParticipantJoined, webhook.ParticipantLeft, webhook.RoomFinished}
	require.Eventually(t, func() bool { return len(types()) >= len(want) }, 10*time.Second, 20*time.Millisecond, "printed %v; stderr %s", types(), stderr.String())
	require.Equal(t, want, types())
	mu.Lock()
	require.Equal(t, "alice", events[1].Participant.Identity)
	require.Equal(t, "listened", events[1].Room)
	mu.Unlock()
	require.NotContains(t, stderr.String(), "refused")
}
