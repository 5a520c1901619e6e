package loadgen

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEveryListenerHearsEveryPublisherOfItsRoom(t *testing.T) {
	pubA, pubB := &peer{room: "a", identity: "pub-a", publish: true}, &peer{room: "a", identity: "pub-b", publish: true}
	ear := &peer{room: "a", identity: "ear"}
	other := &peer{room: "b", identity: "other"}
	peers := []*peer{pubA, pubB, ear, other}
	heard := map[[2]*peer]bool{}
	hears := func(l, q *peer) bool { return heard[[2]*peer{l, q}] }

	require.False(t, everyListenerHears(peers, hears))
	heard[[2]*peer{ear, pubA}], heard[[2]*peer{ear, pubB}] = true, true
	require.False(t, everyListenerHears(peers, hears), "the publishers hear each other too")
	heard[[2]*peer{pubA, pubB}] = true
	require.False(t, everyListenerHears(peers, hears))
	heard[[2]*peer{pubB, pubA}] = true
	require.True(t, everyListenerHears(peers, hears), "nobody hears themselves, nor another room's publishers")
	require.True(t, everyListenerHears([]*peer{ear, other}, hears), "a room without publishers has nothing to wait for")
}

func TestAwaitStreamsWaitsUntilHeardOrItsLimit(t *testing.T) {
	peers := []*peer{{room: "a", publish: true}, {room: "a"}}
	var polls atomic.Int32
	heardAfter := func(n int32) func(l, q *peer) bool {
		polls.Store(0)
		return func(l, q *peer) bool { return polls.Add(1) > n }
	}
	require.Less(t, awaitStreams(context.Background(), peers, time.Hour, heardAfter(0)), time.Second, "heard at once: no wait")

	waited := awaitStreams(context.Background(), peers, time.Hour, heardAfter(3))
	require.Greater(t, polls.Load(), int32(3), "it polled until the stream was heard")
	require.Less(t, waited, time.Second)

	never := func(l, q *peer) bool { return false }
	waited = awaitStreams(context.Background(), peers, 100*time.Millisecond, never)
	require.GreaterOrEqual(t, waited, 100*time.Millisecond, "a stream never heard: the limit")
	require.Less(t, waited, time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Less(t, awaitStreams(ctx, peers, time.Hour, never), time.Second, "a cancelled run stops waiting")
}
