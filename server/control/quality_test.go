package control

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

// lossyTap drops a share of the RTP a client receives, before pion sees
// it: its receiver reports count them lost, as a listener's on a lossy
// network would. Deterministic for a seed.
type lossyTap struct {
	mu      sync.Mutex
	rng     *rand.Rand
	percent atomic.Int32
}

func (l *lossyTap) tap(uint32, uint16, uint32, int, time.Time) bool {
	p := l.percent.Load()
	if p == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rng.IntN(100) >= int(p)
}

// TestConnectionQualityFollowsAListenersLoss: a clean call is excellent; a
// listener that loses 10 % of what it receives is poor or worse within 10 s,
// in the admin API (what voicectl peers -o json prints) and in the room's
// connection_quality messages, and back within 10 s of the loss ending.
func TestConnectionQualityFollowsAListenersLoss(t *testing.T) {
	h := startHarness(t, testConfig(1))
	alice := h.connect("q", "alice", true)
	lossy := &lossyTap{rng: rand.New(rand.NewPCG(33, 1))}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bob, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token("q", "bob", false, time.Hour), LoopbackOnly: true, Tap: lossy.tap})
	require.NoError(t, err)
	t.Cleanup(bob.Close)
	hearsAll(t, []*client.Client{alice}, 0)
	require.Eventually(t, func() bool { return bob.Received(alice.PeerID()) > 50 }, 10*time.Second, 50*time.Millisecond)

	adm := h.admin()
	peers := func() (a, b wire.AdminPeer) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d, err := adm.Room(ctx, "q")
		require.NoError(t, err)
		for _, p := range d.PeerList {
			switch p.ID {
			case alice.PeerID():
				a = p
			case bob.PeerID():
				b = p
			}
		}
		return a, b
	}
	// within polls the admin API for up to d until ok holds of bob, and
	// checks that alice's clean connection stays excellent all along.
	within := func(d time.Duration, what string, ok func(wire.AdminPeer) bool) wire.AdminPeer {
		t.Helper()
		var last wire.AdminPeer
		start := time.Now()
		for end := start.Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			a, b := peers()
			if a.Quality != "" {
				require.Equal(t, wire.QualityExcellent, a.Quality, "the publisher's clean connection: %+v", a)
			}
			if last = b; ok(b) {
				t.Logf("bob %s after %s: %+v", what, time.Since(start).Round(100*time.Millisecond), b)
				return b
			}
		}
		t.Fatalf("bob not %s within %s: last %+v", what, d, last)
		return last
	}
	excellent := func(p wire.AdminPeer) bool { return p.Quality == wire.QualityExcellent }
	poorOrWorse := func(p wire.AdminPeer) bool { return p.Quality == wire.QualityPoor || p.Quality == wire.QualityLost }

	clean := within(10*time.Second, "excellent on a clean call", excellent)
	require.GreaterOrEqual(t, clean.Score, 89)
	require.Less(t, clean.Loss, 0.02)
	// The worker's first sender report goes out 2.5-7.5 s after the join (or
	// one interval later, when nothing was sent yet); the listener's next
	// reports echo it (LSR/DLSR) and give the round trip.
	clean = within(20*time.Second, "excellent with a round-trip time", func(p wire.AdminPeer) bool { return excellent(p) && p.RTTMs > 0 })
	require.Less(t, clean.RTTMs, 200.0)
	a, _ := peers()
	require.Equal(t, wire.QualityExcellent, a.Quality, "the publisher")

	lossy.percent.Store(10)
	bad := within(10*time.Second, "poor at 10 % loss", poorOrWorse)
	require.Greater(t, bad.Loss, 0.05, "%+v", bad)
	require.Less(t, bad.Score, 80)
	// The room hears it: alice's page is told bob's new level.
	ev := waitEvent(t, alice, func(m *wire.ConnectionQuality) bool {
		for _, p := range m.Peers {
			if p.PeerID == bob.PeerID() && (p.Level == wire.QualityPoor || p.Level == wire.QualityLost) {
				return true
			}
		}
		return false
	})
	require.NotEmpty(t, ev.Peers)

	lossy.percent.Store(0)
	back := within(10*time.Second, "good or excellent once the loss ended", func(p wire.AdminPeer) bool {
		return p.Quality == wire.QualityGood || p.Quality == wire.QualityExcellent
	})
	require.GreaterOrEqual(t, back.Score, 80)
	waitEvent(t, alice, func(m *wire.ConnectionQuality) bool {
		for _, p := range m.Peers {
			if p.PeerID == bob.PeerID() && (p.Level == wire.QualityGood || p.Level == wire.QualityExcellent) {
				return true
			}
		}
		return false
	})

	// A listener that receives nothing at all, though its reports still
	// come: poor or worse, with all lost.
	lossy.percent.Store(100)
	deaf := within(10*time.Second, "poor when it receives nothing", poorOrWorse)
	if deaf.Quality == wire.QualityPoor {
		require.InDelta(t, 1, deaf.Loss, 0.01, "%+v", deaf)
	}
	lossy.percent.Store(0)

	// The worker's histograms counted the scores.
	l := h.load(0)
	var n uint64
	for _, c := range l.QualityScoreBuckets {
		n += c
	}
	require.Greater(t, n, uint64(4), "scores observed")
	require.Len(t, l.QualityLossBuckets, len(l.QualityScoreBuckets))
}
