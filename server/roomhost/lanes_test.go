package roomhost

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLanesKeepOrderPerKey(t *testing.T) {
	l := newLanes()
	var mu sync.Mutex
	got := map[string][]int{}
	for i := 0; i < 200; i++ {
		for _, k := range []string{"a", "b", "c"} {
			l.do(k, func() {
				if i%7 == 0 {
					time.Sleep(50 * time.Microsecond) // a slow handler must not let later ones overtake it
				}
				mu.Lock()
				got[k] = append(got[k], i)
				mu.Unlock()
			})
		}
	}
	l.stop()
	for _, k := range []string{"a", "b", "c"} {
		require.Len(t, got[k], 200, k)
		for i, v := range got[k] {
			require.Equal(t, i, v, "lane %s out of order", k)
		}
	}
}

func TestLanesRunKeysInParallel(t *testing.T) {
	l := newLanes()
	block := make(chan struct{})
	l.do("slow", func() { <-block })
	done := make(chan struct{})
	l.do("fast", func() { close(done) })
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("one blocked lane held up another")
	}
	close(block)
	l.stop()
}

func TestLanesStopWaitsAndThenDrops(t *testing.T) {
	l := newLanes()
	var ran atomic.Int32
	for i := 0; i < 10; i++ {
		l.do(fmt.Sprint(i%3), func() { time.Sleep(time.Millisecond); ran.Add(1) })
	}
	l.stop()
	require.Equal(t, int32(10), ran.Load(), "stop returned before queued work ran")
	l.do("late", func() { ran.Add(1) })
	l.mu.Lock()
	require.Empty(t, l.queued, "work queued after stop")
	l.mu.Unlock()
}
