package roomhost

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFutureWakesEveryWaiterWithTheOutcome(t *testing.T) {
	f := newFuture[int]()
	require.False(t, f.resolved())
	require.False(t, f.succeeded())
	var wg sync.WaitGroup
	got := make(chan int, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := f.result()
			require.NoError(t, err)
			got <- v
		}()
	}
	f.set(7, nil)
	wg.Wait()
	close(got)
	for v := range got {
		require.Equal(t, 7, v)
	}
	require.True(t, f.succeeded())

	failed := resolvedFuture(0, errors.New("no"))
	require.True(t, failed.resolved())
	require.False(t, failed.succeeded())
	_, err := failed.wait(context.Background())
	require.EqualError(t, err, "no")
}

func TestFutureWaitEndsWithItsContext(t *testing.T) {
	f := newFuture[string]()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := f.wait(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, f.resolved())
}
