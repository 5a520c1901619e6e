package roomhost

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

func (s *fakeSession) endedCode() wire.Code {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

func TestTransportStatesMoveThePeerOn(t *testing.T) {
	ws := []*fakeWorker{newFakeWorker(0)}
	h := New(Params{Workers: fakeWorkers{ws}, Limits: roomy, PipeListenIP: "127.0.0.1", CallTimeout: 5 * time.Second,
		MediaTimeout: 50 * time.Millisecond})
	t.Cleanup(h.Stop)
	th := &testHost{t: t, h: h, ws: ws}
	a, as := th.join("r", "a", false)
	b, bs := th.join("r", "b", false)
	phase := func(id string) peerPhase {
		p := h.peer(id)
		p.room.mu.Lock()
		defer p.room.mu.Unlock()
		return p.phase
	}
	require.Equal(t, peerReady, phase(a))

	// Both are offered (their clocks start); a's media connects.
	h.HandleEvent(ws[0].ref, ipc.OfferEvent{TransportID: a, SDP: "offer"})
	h.HandleEvent(ws[0].ref, ipc.OfferEvent{TransportID: b, SDP: "offer"})
	h.HandleEvent(ws[0].ref, ipc.StateEvent{TransportID: a, State: ipc.ConnConnecting})
	h.HandleEvent(ws[0].ref, ipc.StateEvent{TransportID: a, State: ipc.ConnConnected})
	th.settle()
	require.Equal(t, peerConnected, phase(a))

	// b never connects: it is ended; a is not.
	require.Eventually(t, func() bool { return bs.endedCode() == wire.CodeJoinTimeout }, 5*time.Second, 5*time.Millisecond)
	require.Empty(t, as.endedCode())

	// a's ICE fails: it is told to reconnect, and why.
	h.HandleEvent(ws[0].ref, ipc.StateEvent{TransportID: a, State: ipc.ConnFailed})
	th.settle()
	require.Equal(t, string(wire.ReconnectICEFailed), as.reconnectReason())
	require.Empty(t, bs.reconnectReason())
}
