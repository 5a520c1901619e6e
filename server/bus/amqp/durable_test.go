package amqp

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/bus"
)

// TestDurableQueueKeepsWhatWasNotAcked: messages enqueued while nobody
// consumes wait; a consumer gets them in order, prefetch at a time; what it
// had not acked when it went comes first to the next one (another
// connection: an API restarted), and acked ones never come back.
func TestDurableQueueKeepsWhatWasNotAcked(t *testing.T) {
	t.Parallel() // a broker each
	br := rabbittest.Shared(t)
	pub := dial(t, br.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const q = "voice.test.durable"
	for i := range 6 {
		require.NoError(t, pub.Enqueue(ctx, q, bus.Envelope{Type: "n", RequestID: fmt.Sprint(i)}))
	}

	var mu sync.Mutex
	var got []bus.Delivery
	first := dial(t, br.URL, nil)
	sub, err := first.Consume(q, 3, func(d bus.Delivery) {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	})
	require.NoError(t, err)
	held := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for _, d := range got {
			ids = append(ids, d.RequestID)
		}
		return ids
	}
	require.Eventually(t, func() bool { return len(held()) == 3 }, 10*time.Second, 10*time.Millisecond)
	require.Never(t, func() bool { return len(held()) > 3 }, 300*time.Millisecond, 20*time.Millisecond, "prefetch 3")
	require.Equal(t, []string{"0", "1", "2"}, held())
	mu.Lock()
	require.NoError(t, got[0].Ack())
	mu.Unlock()
	require.Eventually(t, func() bool { return len(held()) == 4 }, 10*time.Second, 10*time.Millisecond, "an ack makes room")
	gone := got[1].Gone
	require.NoError(t, sub.Cancel())
	require.NoError(t, first.Close())
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("a delivery's Gone is not closed when its consumer went")
	}

	second := dial(t, br.URL, nil)
	var mu2 sync.Mutex
	var again []string
	sub2, err := second.Consume(q, 10, func(d bus.Delivery) {
		mu2.Lock()
		again = append(again, d.RequestID)
		mu2.Unlock()
		require.NoError(t, d.Ack())
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, sub2.Cancel()) }()
	require.Eventually(t, func() bool {
		mu2.Lock()
		defer mu2.Unlock()
		return len(again) == 5
	}, 10*time.Second, 10*time.Millisecond)
	mu2.Lock()
	require.Equal(t, []string{"1", "2", "3", "4", "5"}, again, "the unacked ones first, in order; the acked one never")
	mu2.Unlock()
}
