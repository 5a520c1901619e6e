package bus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLocalDurableQueueKeepsWhatWasNotAcked(t *testing.T) {
	l := NewLocal()
	defer l.Close()
	for i := range 5 {
		require.NoError(t, l.Enqueue(context.Background(), "q", Envelope{Type: "n", RequestID: fmt.Sprint(i)}))
	}
	var mu sync.Mutex
	var got []Delivery
	sub, err := l.Consume("q", 2, func(d Delivery) {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	})
	require.NoError(t, err)
	n := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	require.Eventually(t, func() bool { return n() == 2 }, time.Second, time.Millisecond)
	require.NoError(t, got[0].Ack())
	require.Eventually(t, func() bool { return n() == 3 }, time.Second, time.Millisecond)
	require.NoError(t, sub.Cancel())
	require.ErrorIs(t, got[1].Ack(), ErrClosed, "after its consumer went the message is the queue's again")

	var again []string
	sub, err = l.Consume("q", 10, func(d Delivery) {
		mu.Lock()
		again = append(again, d.RequestID)
		mu.Unlock()
		_ = d.Ack()
	})
	require.NoError(t, err)
	defer func() { _ = sub.Cancel() }()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(again) == 4
	}, time.Second, time.Millisecond)
	require.Equal(t, []string{"1", "2", "3", "4"}, again)
}
