package worker

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// movingMux is a client's ICE UDP mux that moves from one local address to
// another, as a phone that leaves Wi-Fi for mobile data: candidates gathered
// after the move are on the new address; the old one is blocked (gone).
type movingMux struct {
	from, to *ice.UDPMuxDefault
	fromConn *blockableConn
	moved    atomic.Bool
}

func newMovingMux(t *testing.T) *movingMux {
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	require.NoError(t, err)
	m := &movingMux{fromConn: &blockableConn{PacketConn: a}}
	m.from = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: m.fromConn})
	m.to = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: b})
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func (m *movingMux) tune(se *webrtc.SettingEngine) { se.SetICEUDPMux(m) }

// move takes the client to its new address; the old one hears nothing more.
func (m *movingMux) move() {
	m.moved.Store(true)
	m.fromConn.blocked.Store(true)
}

func (m *movingMux) newAddr() netip.Addr { return netip.MustParseAddr("127.0.0.2") }

func (m *movingMux) current() *ice.UDPMuxDefault {
	if m.moved.Load() {
		return m.to
	}
	return m.from
}

func (m *movingMux) Close() error {
	_ = m.from.Close()
	return m.to.Close()
}

func (m *movingMux) GetConn(ufrag string, addr net.Addr) (net.PacketConn, error) {
	for _, mux := range []*ice.UDPMuxDefault{m.from, m.to} {
		for _, a := range mux.GetListenAddresses() {
			if a.String() == addr.String() {
				return mux.GetConn(ufrag, addr)
			}
		}
	}
	return m.current().GetConn(ufrag, addr)
}

func (m *movingMux) RemoveConnByUfrag(ufrag string) {
	m.from.RemoveConnByUfrag(ufrag)
	m.to.RemoveConnByUfrag(ufrag)
}

func (m *movingMux) GetListenAddresses() []net.Addr { return m.current().GetListenAddresses() }

// answerOffer has pc answer tr's outstanding offer, sending tracks on the
// offered transceivers (added after the offer is set, so pion takes those
// rather than adding its own); it returns their senders.
func answerOffer(t testing.TB, pc *webrtc.PeerConnection, tr *transport, tracks ...webrtc.TrackLocal) []*webrtc.RTPSender {
	t.Helper()
	require.NoError(t, pc.SetRemoteDescription(*tr.pc.LocalDescription()))
	var senders []*webrtc.RTPSender
	for _, track := range tracks {
		sender, err := pc.AddTrack(track)
		require.NoError(t, err)
		senders = append(senders, sender)
	}
	answer, err := pc.CreateAnswer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(answer))
	<-gathered
	require.NoError(t, tr.applyAnswer(pc.LocalDescription().SDP))
	return senders
}

// movedTo waits until tr's route, and the consent checks, are on addr.
func movedTo(t *testing.T, tr *transport, addr netip.Addr) {
	t.Helper()
	require.Eventually(t, func() bool {
		rt := tr.route.Load()
		tr.consentMu.Lock()
		defer tr.consentMu.Unlock()
		return rt.remote.Addr() == addr && tr.consent != nil && tr.consent.remote == rt.remote &&
			tr.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	}, 5*time.Second, 5*time.Millisecond, "the transport follows the client to %s", addr)
}

// TestICERestartFollowsAClientToANewAddress: a listener and a publisher whose
// address changes (127.0.0.1 to 127.0.0.2) get an ICE-restart offer, answer
// it from the new address and carry on: the same transports, SRTP keys and
// SSRCs; the route, the ingress and the consent checks on the new address.
func TestICERestartFollowsAClientToANewAddress(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorker(t, 46660)

	listener := newMovingMux(t)
	l := connectListener(t, w, "T", listener.tune)
	tr, keys, ssrc := l.t, l.t.route.Load().keys, l.c.ssrc
	heard(t, pr, l, 1, 20)
	oldUfrag := iceUfrag(t, tr)

	listener.move()
	_, err := w.handlers().Serve(t.Context(), ipc.MethodTransportICE, []byte(`{"transport_id":"T"}`))
	require.NoError(t, err, "control asks through ipc")
	require.NotEqual(t, oldUfrag, iceUfragOfOffer(t, tr), "new ICE credentials")
	l.answer(t)
	movedTo(t, tr, listener.newAddr())
	require.Same(t, tr, w.transports["T"])
	require.Same(t, keys, tr.route.Load().keys, "the same DTLS association")
	heard(t, pr, l, 21, 20)
	require.Equal(t, ssrc, l.c.ssrc)

	publisher := newMovingMux(t)
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "PUB", ProducerID: "M"}))
	pub := w.transports["PUB"]
	waitGathered(t, pub)
	cpc := newTestClient(t, publisher.tune, webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	mic, err := webrtc.NewTrackLocalStaticRTP(OpusCodec, "mic", "PUB")
	require.NoError(t, err)
	answerOffer(t, cpc, pub, mic)
	seq := uint16(0)
	require.Eventually(t, func() bool {
		seq++
		publish(t, mic, seq)
		pub.routeMu.Lock()
		defer pub.routeMu.Unlock()
		return pub.ingress != nil
	}, 10*time.Second, 5*time.Millisecond, "the worker's sockets take the publisher's stream")

	publisher.move()
	require.NoError(t, pub.restartICE())
	answerOffer(t, cpc, pub)
	movedTo(t, pub, publisher.newAddr())
	pub.routeMu.Lock()
	at := pub.ingressAt
	pub.routeMu.Unlock()
	require.Equal(t, publisher.newAddr(), at.Addr(), "the ingress follows")
	taken := w.api.sockets.ingress.taken.Load()
	for range 20 {
		seq++
		publish(t, mic, seq)
		time.Sleep(2 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return w.api.sockets.ingress.taken.Load()-taken >= 20 }, 5*time.Second, 5*time.Millisecond,
		"the worker's sockets take the stream from the new address")
}

// TestICERestartWaitsForTheOutstandingAnswer: a restart asked while an offer
// is out is the next offer, once that one is answered.
func TestICERestartWaitsForTheOutstandingAnswer(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46670)
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T"}))
	require.NoError(t, w.transports["T"].restartICE(), "nothing offered yet: nothing to restart")
	require.NoError(t, w.createConsumer(ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}))
	tr := w.transports["T"]
	waitGathered(t, tr)
	first := iceUfragOfOffer(t, tr)
	require.NoError(t, tr.restartICE())
	require.Equal(t, first, iceUfragOfOffer(t, tr), "the offer that is out stays")
	l := &testListener{t: tr, c: tr.consumers["P"], pc: newTestClient(t, nil)}
	l.answer(t)
	require.True(t, tr.negotiating, "the restart offer follows the answer")
	require.NotEqual(t, first, iceUfragOfOffer(t, tr))
	l.answer(t)
	require.Eventually(t, func() bool { return tr.route.Load() != nil && l.c.bound.Load() }, 5*time.Second, 5*time.Millisecond)

	w.closeTransport(tr)
	require.Error(t, tr.restartICE())
}

// iceUfrag is the ufrag t's ICE agent uses now.
func iceUfrag(t *testing.T, tr *transport) string {
	p, err := tr.pc.SCTP().Transport().ICETransport().GetLocalParameters()
	require.NoError(t, err)
	return p.UsernameFragment
}

// iceUfragOfOffer is the ufrag of t's last offer.
func iceUfragOfOffer(t *testing.T, tr *transport) string {
	parsed, err := tr.pc.LocalDescription().Unmarshal()
	require.NoError(t, err)
	for _, m := range parsed.MediaDescriptions {
		if v, ok := m.Attribute("ice-ufrag"); ok {
			return v
		}
	}
	v, _ := parsed.Attribute("ice-ufrag")
	return v
}
