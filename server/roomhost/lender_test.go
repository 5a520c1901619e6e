package roomhost

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
)

func lentPeers(l *Lender) int {
	_, _, peers := l.Counts()
	return peers
}

// An owner that stops waiting for a relay's answer places the peer
// elsewhere (or refuses it) and never closes a transport for it here: the
// reservation must not outlive the request, or the relay carries a peer it
// will never see.
func TestALenderGivesBackWhatTheOwnerStoppedWaitingFor(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	l, w := th.h.Lender(), th.ws[0]
	req := func(peer, try string) cluster.RelayPlace {
		return cluster.RelayPlace{Room: "r", Owner: "A", Peer: peer, Try: try}
	}

	// p1 makes the room's router here; its worker is slow to answer.
	release := w.holdMethod(ipc.MethodRouterCreate)
	first := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := l.Place(ctx, req("p1", "1"))
		first <- err
	}()
	require.Eventually(t, func() bool { return lentPeers(l) == 1 }, 2*time.Second, time.Millisecond)
	// p2 is reserved on the router being made, and its owner gives up first.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := l.Place(ctx, req("p2", "2"))
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, lentPeers(l), "p2's reservation is given back")
	release()
	require.NoError(t, <-first)
	rooms, routers, peers := l.Counts()
	require.Equal(t, [3]int{1, 1, 1}, [3]int{rooms, routers, peers})

	// The router is there, but the owner has stopped waiting when the
	// answer is ready: the answer would reach nobody.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = l.Place(ctx, req("p3", "3"))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, lentPeers(l), "p3's reservation is given back")

	// A release names the try it gives up on: the latest try owns the
	// reservation, and nobody but the owner gives it back.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = l.Place(ctx, req("p4", "4"))
	require.NoError(t, err)
	require.False(t, l.ReleaseTry("B", "p4", "4"), "another server's release")
	require.False(t, l.ReleaseTry("A", "p4", "3"), "an older try's release")
	_, err = l.Place(ctx, req("p4", "5")) // asked again
	require.NoError(t, err)
	require.False(t, l.ReleaseTry("A", "p4", "4"), "the try asked again is the latest")
	require.Equal(t, 2, lentPeers(l))
	require.True(t, l.ReleaseTry("A", "p4", "5"))
	require.False(t, l.ReleaseTry("A", "p4", "5"), "released once")
	require.Equal(t, 1, lentPeers(l))

	// The router closes with its last reservation.
	l.Release("A", "p1")
	rooms, routers, peers = l.Counts()
	require.Equal(t, [3]int{0, 0, 0}, [3]int{rooms, routers, peers})
	require.Equal(t, 1, w.count(ipc.MethodRouterClose))
}
