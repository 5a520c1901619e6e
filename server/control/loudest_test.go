package control

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
)

func TestLoudestNForwardsOnlyTheLoudest(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			cfg := testConfig(workers)
			cfg.Room.MaxForwardedSpeakers = 2
			if workers == 2 {
				// Publishers fill worker 0; the listener lands on worker 1, so the
				// selection there runs on piped producers.
				// Four publishers cost 4 producers + 4x2 consumers = 12 = 16 x (1 - 0.2).
				cfg.Worker.MaxConsumers = 16
				cfg.Worker.PipeHeadroom = 0.2
			}
			h := startHarness(t, cfg)
			// RFC 6464 levels are -dBov: 10 is loudest, 90 quietest.
			levels := []uint8{60, 10, 90, 30}
			pubs := make([]*client.Client, len(levels))
			for i, lvl := range levels {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token("loud", fmt.Sprintf("p%d", i), true, time.Hour), Publish: true, Level: lvl, LoopbackOnly: true})
				cancel()
				require.NoError(t, err)
				t.Cleanup(c.Close)
				pubs[i] = c
			}
			l := h.connect("loud", "listener", false)
			if workers == 2 {
				require.Equal(t, 1, h.workerOf(l.PeerID()))
				require.Equal(t, 0, h.workerOf(pubs[0].PeerID()))
			}
			loudest := []*client.Client{pubs[1], pubs[3]}
			quiet := []*client.Client{pubs[0], pubs[2]}
			// 20 s: twice the listener heard nothing within 10 s beside the
			// whole suite.
			heard := func() bool {
				return l.Received(loudest[0].PeerID()) > 50 && l.Received(loudest[1].PeerID()) > 50
			}
			for deadline := time.Now().Add(20 * time.Second); !heard(); time.Sleep(50 * time.Millisecond) {
				require.True(t, time.Now().Before(deadline), "listener got %v", l.ReceivedFrom())
			}
			// Producers reach a router one by one, so the first ones may be forwarded
			// until the louder ones arrive; once settled, only the loudest two flow.
			for _, q := range quiet {
				quietFrom(t, l, q.PeerID())
			}
			settled := l.ReceivedFrom()
			require.Never(t, func() bool {
				now := l.ReceivedFrom()
				for _, q := range quiet {
					if now[q.PeerID()] != settled[q.PeerID()] {
						return true
					}
				}
				return false
			}, time.Second, 20*time.Millisecond, "a quieter speaker is forwarded")
			now := l.ReceivedFrom()
			for _, q := range loudest {
				require.Greater(t, now[q.PeerID()], settled[q.PeerID()]+30, "a loud speaker is not forwarded: %v", now)
			}
		})
	}
}
