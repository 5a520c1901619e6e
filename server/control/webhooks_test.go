package control

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/webhook/webhooktest"
)

const testWebhookKey = "integration-webhook-key-0123456789"

func webhookConfig(cfg config.Config, dataDir string, urls ...string) config.Config {
	cfg.DataDir = dataDir
	cfg.Webhooks = config.Webhooks{URLs: urls, Key: testWebhookKey, Timeout: 2 * time.Second,
		RetryMin: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond, MaxAge: time.Hour, QueueMax: 1000, InFlight: 16}
	return cfg
}

// TestWebhooksOfACallArriveOnceInOrderThroughAnOutageAndARestart: real
// peers join, one is kicked, one leaves, with the receiver down for the
// second half of the call and the server restarted meanwhile (its events
// wait in data_dir); once the receiver is back every event of the call has
// arrived, once each, in the room's order, signed. Retries are 100-400 ms
// apart here (webhooks.retry_min/max), so an outage of a few seconds shows
// what one of an hour would.
func TestWebhooksOfACallArriveOnceInOrderThroughAnOutageAndARestart(t *testing.T) {
	rcv := webhooktest.New([]byte(testWebhookKey))
	srv := rcv.Start()
	defer srv.Close()
	cfg := webhookConfig(testConfig(1), t.TempDir(), srv.URL)
	h := startHarness(t, cfg)

	alice := h.connect("hooks", "alice", true)
	h.connect("hooks", "bob", false)
	require.Eventually(t, func() bool { return len(rcv.Lines("hooks")) == 3 }, 10*time.Second, 20*time.Millisecond)

	rcv.SetDown(true)
	carol := h.connect("hooks", "carol", false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.admin().Kick(ctx, "hooks", "bob")
	require.NoError(t, err)
	peers := func(n int) func() bool {
		return func() bool {
			r, err := h.admin().Room(ctx, "hooks")
			return err == nil && len(r.PeerList) == n
		}
	}
	require.Eventually(t, peers(2), 5*time.Second, 20*time.Millisecond)
	carol.Close()
	require.Eventually(t, peers(1), 5*time.Second, 20*time.Millisecond)
	alice.Close()
	require.Eventually(t, func() bool {
		_, _, _, turned := rcv.Stats()
		return turned >= 2
	}, 10*time.Second, 20*time.Millisecond, "the receiver turned the events away")
	h.stop() // the rest waits on disk

	h = startHarness(t, cfg)
	dave := h.connect("hooks", "dave", true)
	dave.Close()
	_, _, _, before := rcv.Stats()
	require.Eventually(t, func() bool {
		_, _, _, turned := rcv.Stats()
		return turned >= before+2
	}, 10*time.Second, 20*time.Millisecond, "the restarted server retries what it found on disk while the receiver is down")
	rcv.SetDown(false)
	want := []string{
		"room_started", "participant_joined alice", "participant_joined bob",
		"participant_joined carol", "participant_left bob kicked", "participant_left carol left", "participant_left alice left", "room_finished",
		"room_started", "participant_joined dave", "participant_left dave left", "room_finished",
	}
	require.Eventually(t, func() bool { return len(rcv.Lines("hooks")) >= len(want) }, 15*time.Second, 20*time.Millisecond)
	require.Equal(t, want, rcv.Lines("hooks"))
	_, repeats, refused, _ := rcv.Stats()
	require.Zero(t, refused, "every request is signed with webhooks.key")
	t.Logf("receiver: %d repeated deliveries (the receiver deduplicates by id)", repeats)
}
