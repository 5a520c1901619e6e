package roomhost

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// qualityMsgs are the connection_quality messages s was sent.
func qualityMsgs(t *testing.T, s *fakeSession) []wire.ConnectionQuality {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.ConnectionQuality
	for _, m := range s.msgs {
		if q, ok := m.(wire.ConnectionQuality); ok {
			require.Equal(t, wire.TypeQuality, q.Type)
			out = append(out, q)
		}
	}
	return out
}

func TestQualityEventsReachTheRoomAndTheAdminView(t *testing.T) {
	th := newTestHost(t, 1, roomy)
	h, w := th.h, th.ws[0]
	a, sa := th.join("r", "a", true)
	b, sb := th.join("r", "b", false)
	require.Equal(t, "", peerOf(t, h, "r", a).Quality, "not measured yet")

	h.HandleEvent(w.ref, ipc.QualityEvent{TransportID: a, Score: 97, Level: ipc.QualityExcellent, JitterMs: 1.5, RTTMs: 2})
	th.settle()
	want := []wire.PeerQuality{{PeerID: a, Level: wire.QualityExcellent, Score: 97}}
	for _, s := range []*fakeSession{sa, sb} {
		got := qualityMsgs(t, s)
		require.Len(t, got, 1, "the room's first quality message")
		require.Equal(t, want, got[0].Peers)
	}

	// The same level again, within qualityEvery: recorded, not sent.
	h.HandleEvent(w.ref, ipc.QualityEvent{TransportID: a, Score: 95, Level: ipc.QualityExcellent, Loss: 0.01})
	h.HandleEvent(w.ref, ipc.QualityEvent{TransportID: b, Score: 96, Level: ipc.QualityExcellent})
	th.settle()
	require.Len(t, qualityMsgs(t, sb), 2, "b's first level is a change")
	require.Equal(t, []wire.PeerQuality{{PeerID: b, Level: wire.QualityExcellent, Score: 96}}, qualityMsgs(t, sb)[1].Peers)
	require.Equal(t, 95, peerOf(t, h, "r", a).Score)

	// a's listener starts losing 10 %: the room hears it at once.
	h.HandleEvent(w.ref, ipc.QualityEvent{TransportID: a, Score: 71, Level: ipc.QualityPoor, Loss: 0.1, JitterMs: 4, RTTMs: 30})
	th.settle()
	got := qualityMsgs(t, sb)
	require.Len(t, got, 3)
	require.Equal(t, []wire.PeerQuality{{PeerID: a, Level: wire.QualityPoor, Score: 71}}, got[2].Peers)
	pa := peerOf(t, h, "r", a)
	require.Equal(t, wire.AdminPeer{Quality: wire.QualityPoor, Score: 71, Loss: 0.1, JitterMs: 4, RTTMs: 30},
		wire.AdminPeer{Quality: pa.Quality, Score: pa.Score, Loss: pa.Loss, JitterMs: pa.JitterMs, RTTMs: pa.RTTMs})

	// The periodic message carries everyone.
	r, err := h.room("r")
	require.NoError(t, err)
	r.mu.Lock()
	r.qualitySentAt = r.qualitySentAt.Add(-qualityEvery)
	r.mu.Unlock()
	h.HandleEvent(w.ref, ipc.QualityEvent{TransportID: b, Score: 96, Level: ipc.QualityExcellent})
	th.settle()
	got = qualityMsgs(t, sa)
	require.Equal(t, []wire.PeerQuality{{PeerID: a, Level: wire.QualityPoor, Score: 71}, {PeerID: b, Level: wire.QualityExcellent, Score: 96}},
		sortedQuality(got[len(got)-1].Peers, a, b))

	// Events about nobody, or a peer that left, change nothing.
	n := len(qualityMsgs(t, sa))
	h.HandleEvent(w.ref, ipc.QualityEvent{TransportID: "TR_nobody", Score: 0, Level: ipc.QualityLost})
	h.Leave(b)
	h.HandleEvent(w.ref, ipc.QualityEvent{TransportID: b, Score: 0, Level: ipc.QualityLost})
	th.settle()
	require.Len(t, qualityMsgs(t, sa), n)
}

// sortedQuality puts peers in the order of ids (peer ids sort as they
// please; the test names them a and b).
func sortedQuality(peers []wire.PeerQuality, ids ...string) []wire.PeerQuality {
	out := make([]wire.PeerQuality, 0, len(peers))
	for _, id := range ids {
		for _, p := range peers {
			if p.PeerID == id {
				out = append(out, p)
			}
		}
	}
	return out
}
