package worker

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/internal/udpmsg"
	"github.com/voicectl/voicectl/server/ipc"
)

// testWorker is an initialised worker on port with router "r" and producer "P"
// on it, with no control process attached.
func testWorker(tb testing.TB, port int) (*Worker, *producer) {
	tb.Helper()
	return testWorkerWith(tb, ipc.InitParams{Port: port, Loopback: true})
}

// testWorkerWith is testWorker initialised with p.
func testWorkerWith(tb testing.TB, p ipc.InitParams) (*Worker, *producer) {
	tb.Helper()
	w := &Worker{log: slog.New(slog.DiscardHandler), routers: map[string]*router{},
		transports: map[string]*transport{}, producers: map[string]*producer{}, pipes: map[string]*pipeTransport{}}
	_, err := w.init(p)
	require.NoError(tb, err)
	tb.Cleanup(w.closeAll)
	require.NoError(tb, w.createRouter("r", 0))
	pr := newProducer("P", w.routers["r"])
	w.routers["r"].addProducer(pr)
	return w, pr
}

// testListener is a pion client connected to one worker transport that consumes
// producer "P"; it counts the packets it decrypts and keeps the last one.
type testListener struct {
	t        *transport
	c        *consumer
	pc       *webrtc.PeerConnection
	received atomic.Int64
	last     atomic.Pointer[rtp.Packet]
	bySeq    sync.Map // sequence number -> the last packet received with it
	tracks   atomic.Int64
	lastSR   atomic.Pointer[rtcp.SenderReport] // the last sender report the client decrypted
}

// connectListener builds a transport and a consumer of "P" through the worker's
// own code, answers with a pion client configured by tune (and apiOpts), and
// waits until the worker has picked the transport's route.
func connectListener(tb testing.TB, w *Worker, id string, tune func(*webrtc.SettingEngine), apiOpts ...func(*webrtc.API)) *testListener {
	tb.Helper()
	return connectListenerTo(tb, w, id, "P", tune, apiOpts...)
}

// connectListenerTo is connectListener for a consumer of producerID.
func connectListenerTo(tb testing.TB, w *Worker, id, producerID string, tune func(*webrtc.SettingEngine), apiOpts ...func(*webrtc.API)) *testListener {
	tb.Helper()
	require.NoError(tb, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: id}))
	require.NoError(tb, w.createConsumer(ipc.ConsumerRef{TransportID: id, ProducerID: producerID}))
	t := w.transports[id]
	waitGathered(tb, t)
	cpc := newTestClient(tb, tune, apiOpts...)
	l := &testListener{t: t, c: t.consumers[producerID], pc: cpc}
	cpc.OnTrack(func(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		l.tracks.Add(1)
		go readRTCP(recv.ReadRTCP, func(p rtcp.Packet) {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				l.lastSR.Store(sr)
			}
		})
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			l.received.Add(1)
			// last is the newest packet: a re-sent one (NACK, RFC 4585) comes
			// after newer ones and must not stand for them.
			if prev := l.last.Load(); prev == nil || int16(pkt.SequenceNumber-prev.SequenceNumber) > 0 {
				l.last.Store(pkt)
			}
			l.bySeq.Store(pkt.SequenceNumber, pkt)
		}
	})
	l.answer(tb)
	deadline := time.Now().Add(5 * time.Second)
	for t.route.Load() == nil || !l.c.bound.Load() {
		require.True(tb, time.Now().Before(deadline), "transport %s did not connect", id)
		time.Sleep(5 * time.Millisecond)
	}
	return l
}

// waitGathered waits until the worker's transport t has gathered its candidates.
func waitGathered(tb testing.TB, t *transport) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for t.pc.ICEGatheringState() != webrtc.ICEGatheringStateComplete {
		require.True(tb, time.Now().Before(deadline), "server gathering did not finish")
		time.Sleep(5 * time.Millisecond)
	}
}

// newTestClient is a pion peer on loopback with Opus, configured by tune and
// apiOpts, closed when the test ends.
func newTestClient(tb testing.TB, tune func(*webrtc.SettingEngine), apiOpts ...func(*webrtc.API)) *webrtc.PeerConnection {
	tb.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if tune != nil {
		tune(&se)
	}
	me := &webrtc.MediaEngine{}
	require.NoError(tb, me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: OpusCodec, PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio))
	cpc, err := webrtc.NewAPI(append([]func(*webrtc.API){webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)}, apiOpts...)...).NewPeerConnection(webrtc.Configuration{})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = cpc.Close() })
	return cpc
}

// readRTCP hands every RTCP packet that read returns to each, until read fails.
func readRTCP(read func() ([]rtcp.Packet, interceptor.Attributes, error), each func(rtcp.Packet)) {
	for {
		pkts, _, err := read()
		if err != nil {
			return
		}
		for _, p := range pkts {
			each(p)
		}
	}
}

// answer answers the transport's outstanding offer.
func (l *testListener) answer(tb testing.TB) {
	tb.Helper()
	require.NoError(tb, l.t.applyAnswer(l.localAnswer(tb)))
}

// localAnswer is the client's answer to the transport's outstanding offer, with
// its candidates, not yet given to the transport.
func (l *testListener) localAnswer(tb testing.TB) string {
	tb.Helper()
	require.NoError(tb, l.pc.SetRemoteDescription(*l.t.pc.LocalDescription()))
	answer, err := l.pc.CreateAnswer(nil)
	require.NoError(tb, err)
	gathered := webrtc.GatheringCompletePromise(l.pc)
	require.NoError(tb, l.pc.SetLocalDescription(answer))
	<-gathered
	return l.pc.LocalDescription().SDP
}

func connectListeners(tb testing.TB, w *Worker, n int, tune func(*webrtc.SettingEngine)) []*testListener {
	out := make([]*testListener, n)
	for i := range out {
		out[i] = connectListener(tb, w, fmt.Sprint("T", i), tune)
	}
	return out
}

// opusPacket is an Opus-sized RTP packet with an audio-level extension.
func opusPacket(seq uint16) ([]byte, *rtp.Packet) {
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: 960 * uint32(seq), SSRC: 42}, Payload: make([]byte, 80)}
	_ = p.Header.SetExtension(1, []byte{0x9e})
	for i := range p.Payload {
		p.Payload[i] = byte(seq) + byte(i)
	}
	raw, _ := p.Marshal()
	return raw, p
}

// redirectToDrain points the listener's route (same keys, same worker socket) at a
// loopback socket that reads and drops everything: the forwarding path runs
// unchanged, but no in-process client decrypts, so measurements see only the worker.
func (l *testListener) redirectToDrain(tb testing.TB) {
	tb.Helper()
	s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := s.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	rt := l.t.route.Load()
	l.setRoute(&route{keys: rt.keys, sock: rt.sock, dst: udpmsg.Inet4(s.LocalAddr().(*net.UDPAddr).AddrPort())})
}

// setRoute replaces the route of l's transport, as ICE moving to another pair does.
func (l *testListener) setRoute(rt *route) {
	l.t.routeMu.Lock()
	defer l.t.routeMu.Unlock()
	l.t.setRouteLocked(rt)
}
