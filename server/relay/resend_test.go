package relay_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/relay"
	"github.com/voicectl/voicectl/server/roomhost"
)

// slowRelay serves server B's worker calls: the first unanswered ones
// wait until their caller gives up (a broker or a relay stalled for
// seconds), the rest are served.
type slowRelay struct {
	mu         sync.Mutex
	unanswered int
	calls      []string // every call that arrived, by method
	served     []string
}

func (r *slowRelay) serve(t *testing.T, b *bus.Local) {
	mux := bus.NewMux("B")
	bus.Handle(mux, bus.CallWorker, func(ctx context.Context, _ bus.Envelope, call bus.WorkerCall) (json.RawMessage, error) {
		r.mu.Lock()
		r.calls = append(r.calls, call.Request.Method())
		hang := r.unanswered > 0
		if hang {
			r.unanswered--
		} else {
			r.served = append(r.served, call.Request.Method())
		}
		r.mu.Unlock()
		if hang {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return json.RawMessage("{}"), nil
	})
	sub, err := b.Serve(bus.WorkersQueue("B"), mux.Serve)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sub.Cancel()) })
}

func (r *slowRelay) seen() (calls, served []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...), append([]string(nil), r.served...)
}

// relayedPeer is owner A's peer p1 placed on relay B, whose worker leaves
// its first unanswered calls unanswered; p has B alive.
func relayedPeer(t *testing.T, unanswered int) (*slowRelay, *peers, *relay.Borrower, roomhost.RelayRouter) {
	s := newServers(t, map[cluster.ServerID]answer{"B": accepts})
	slow := &slowRelay{unanswered: unanswered}
	slow.serve(t, s.bus)
	p := newPeers("A")
	p.beat("B", 0.1, false, 0)
	b := borrower(t, s, p, 200*time.Millisecond)
	rt, err := b.Place(ctxFor(t, 5*time.Second), roomhost.RelayRequest{Room: "r", Peer: "p1"})
	require.NoError(t, err)
	return slow, p, b, rt
}

func TestAReleaseTheRelayDidNotAnswerIsSentAgainUntilServed(t *testing.T) {
	t.Parallel()
	relay, _, _, rt := relayedPeer(t, 3)

	// A consume the relay does not answer is the owner's to redo or
	// undo: it is not sent again.
	err := rt.Client.Consume(ctxFor(t, 200*time.Millisecond), ipc.ConsumerRef{TransportID: "p1", ProducerID: "q"})
	require.ErrorIs(t, err, ipc.ErrWorkerDown)
	// A close is the last the relay hears of the transport: unanswered, the
	// owner goes on (as for a worker that is gone) and it is sent again
	// until the relay serves it.
	err = rt.Client.CloseTransport(ctxFor(t, 200*time.Millisecond), ipc.TransportRef{TransportID: "p1"})
	require.ErrorIs(t, err, ipc.ErrWorkerDown)
	require.Eventually(t, func() bool {
		_, served := relay.seen()
		return len(served) == 1
	}, 10*time.Second, 20*time.Millisecond)
	time.Sleep(1500 * time.Millisecond) // past another resendEvery
	calls, served := relay.seen()
	require.Equal(t, []string{ipc.MethodTransportClose}, served, "the close, served once")
	require.Equal(t, []string{ipc.MethodConsumerCreate, ipc.MethodTransportClose, ipc.MethodTransportClose, ipc.MethodTransportClose}, calls,
		"the consume once; the close until served, then no more")
}

func TestAReleaseIsNotSentAgainToADeadServer(t *testing.T) {
	t.Parallel()
	relay, p, b, rt := relayedPeer(t, 1000)

	require.ErrorIs(t, rt.Client.CloseRouter(ctxFor(t, 200*time.Millisecond), ipc.RouterRef{RouterID: rt.RouterID}), ipc.ErrWorkerDown)
	require.Eventually(t, func() bool {
		calls, _ := relay.seen()
		return len(calls) >= 2
	}, 10*time.Second, 20*time.Millisecond, "sent again")
	// Declared dead: what it lent dies with it, and nothing more is sent.
	p.beat("B", 0.1, false, time.Hour)
	time.Sleep(1500 * time.Millisecond)
	before, _ := relay.seen()
	time.Sleep(1500 * time.Millisecond)
	after, _ := relay.seen()
	require.Equal(t, before, after)

	// A Borrower closing stops a resend at once (goleak checks it ended).
	p.beat("B", 0.1, false, 0)
	require.ErrorIs(t, rt.Client.CloseRouter(ctxFor(t, 200*time.Millisecond), ipc.RouterRef{RouterID: rt.RouterID}), ipc.ErrWorkerDown)
	start := time.Now()
	b.Close()
	require.Less(t, time.Since(start), time.Second)
}
