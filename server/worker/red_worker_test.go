package worker

import (
	"net"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/internal/udpmsg"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// redEngine is a client's media engine with RED (RFC 2198) of Opus and
// Opus, under the numbers Chromium gives them.
func redEngine(tb testing.TB) *webrtc.MediaEngine {
	tb.Helper()
	me := &webrtc.MediaEngine{}
	require.NoError(tb, me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: REDCodec, PayloadType: redPayloadType}, webrtc.RTPCodecTypeAudio))
	require.NoError(tb, me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: OpusCodec, PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio))
	return me
}

// redPacketFor is packet seq of a RED stream: the frame of seq-1 as the
// redundant block, seq's as the primary (both opusPacket's payloads), in a
// packet with opusPacket's header and audio level.
func redPacketFor(seq uint16) *rtp.Packet {
	_, cur := opusPacket(seq)
	_, prev := opusPacket(seq - 1)
	cur.PayloadType = redPayloadType
	cur.Payload = redPayload(redBlock{opusPayloadType, 960, prev.Payload}, redBlock{opusPayloadType, 0, cur.Payload})
	return cur
}

// connectREDPublisher connects a pion client that publishes producerID
// through transport id with a RED track.
func connectREDPublisher(tb testing.TB, w *Worker, id, producerID string) (*transport, *webrtc.TrackLocalStaticRTP) {
	tb.Helper()
	require.NoError(tb, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: id, ProducerID: producerID}))
	tr := w.transports[id]
	waitGathered(tb, tr)
	cpc := newTestClient(tb, nil, webrtc.WithMediaEngine(redEngine(tb)), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	mic, err := webrtc.NewTrackLocalStaticRTP(REDCodec, "mic", id)
	require.NoError(tb, err)
	answerOffer(tb, cpc, tr, mic)
	return tr, mic
}

// TestREDOfferedFirst: with rtc.red the worker offers red/48000/2 (fmtp
// 111/111, Chromium's numbers) before Opus, for publishers and listeners;
// without, Opus alone as before.
func TestREDOfferedFirst(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorkerWith(t, ipc.InitParams{Port: 46400, Loopback: true, RED: true})
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T", ProducerID: "PUB"}))
	offer := w.transports["T"].pc.LocalDescription().SDP
	require.Contains(t, offer, "m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n")
	require.Contains(t, offer, "a=rtpmap:63 red/48000/2\r\n")
	require.Contains(t, offer, "a=fmtp:63 111/111\r\n")

	off, _ := testWorkerWith(t, ipc.InitParams{Port: 46401, Loopback: true})
	require.NoError(t, off.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T", ProducerID: "PUB"}))
	offer = off.transports["T"].pc.LocalDescription().SDP
	require.NotContains(t, offer, "red/")
	require.Contains(t, offer, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n")
}

// TestREDPublisherHeardByEveryListener: a publisher that sends RED is heard
// as RED by listeners that negotiated it and as its primary Opus by those
// that did not, on the worker's own write path and on pion's, with the
// header (timestamp, marker, audio level) the publisher sent.
func TestREDPublisherHeardByEveryListener(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorkerWith(t, ipc.InitParams{Port: 46410, Loopback: true, RED: true})
	_, mic := connectREDPublisher(t, w, "PUB", "MIC")
	seq := uint16(1)
	require.Eventually(t, func() bool {
		seq++
		require.NoError(t, mic.WriteRTP(redPacketFor(seq)))
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.producers["MIC"] != nil
	}, 10*time.Second, 5*time.Millisecond, "the worker opens the RED stream")
	require.Equal(t, uint8(redPayloadType), w.producers["MIC"].redPT)

	pionPath := func(se *webrtc.SettingEngine) { require.NoError(t, se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer)) }
	redAPI := webrtc.WithMediaEngine(redEngine(t))
	listeners := map[string]struct {
		l   *testListener
		red bool
	}{
		"own path, RED":   {connectListenerTo(t, w, "L1", "MIC", nil, redAPI), true},
		"own path, Opus":  {connectListenerTo(t, w, "L2", "MIC", nil), false},
		"pion path, RED":  {connectListenerTo(t, w, "L3", "MIC", pionPath, webrtc.WithMediaEngine(redEngine(t))), true},
		"pion path, Opus": {connectListenerTo(t, w, "L4", "MIC", pionPath), false},
	}
	require.True(t, listeners["own path, RED"].l.t.route.Load().fast())
	require.False(t, listeners["pion path, Opus"].l.t.route.Load().fast())
	require.Eventually(t, func() bool {
		seq++
		require.NoError(t, mic.WriteRTP(redPacketFor(seq)))
		for _, x := range listeners {
			if last := x.l.last.Load(); last == nil || last.SequenceNumber != seq {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "every listener hears the stream")
	sent := redPacketFor(seq)
	_, primary := opusPacket(seq)
	for name, x := range listeners {
		t.Run(name, func(t *testing.T) {
			got := x.l.last.Load()
			require.Equal(t, x.l.c.ssrc, got.SSRC)
			require.Equal(t, sent.Timestamp, got.Timestamp, "the primary's timestamp")
			require.Equal(t, sent.Marker, got.Marker)
			require.Equal(t, []byte{0x9e}, got.GetExtension(1), "the audio level passes through")
			if x.red {
				require.Equal(t, uint8(redPayloadType), got.PayloadType)
				require.Equal(t, sent.Payload, got.Payload, "RED as the publisher sent it")
				return
			}
			require.Equal(t, uint8(opusPayloadType), got.PayloadType)
			require.Equal(t, primary.Payload, got.Payload, "the primary block alone")
			require.False(t, got.Padding)
		})
	}
	require.Zero(t, w.load().REDMalformed)
}

// TestREDRenumberedForTheListener: a listener that numbers Opus and RED
// otherwise than the worker gets RED under its own numbers, its blocks
// renumbered too (it decodes each block by its payload type).
func TestREDRenumberedForTheListener(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorkerWith(t, ipc.InitParams{Port: 46420, Loopback: true, RED: true})
	pr.redPT = redPayloadType
	l := connectListener(t, w, "T", nil)
	// The listener's answer is what matters: bind as if it had said 100 and 109.
	l.c.pts.Store(uint32(109 | 100<<8))
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close() })
	rt := l.t.route.Load()
	l.setRoute(&route{keys: rt.keys, sock: rt.sock, dst: inet4(sink)})
	// Decrypt what the worker sealed, with the listener's keys as a pion
	// client would: the route's keys seen from the other side.
	pkt := redPacketFor(5)
	raw, err := pkt.Marshal()
	require.NoError(t, err)
	pr.dispatch(raw, pkt)
	buf := make([]byte, 1500)
	require.NoError(t, sink.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, _, err := sink.ReadFromUDPAddrPort(buf)
	require.NoError(t, err)
	got := openAsListener(t, rt.keys, buf[:n])
	require.Equal(t, uint8(100), got.PayloadType)
	want := append([]byte(nil), pkt.Payload...)
	setREDBlockTypes(want, 2, 109)
	require.Equal(t, want, got.Payload)
}

// TestMalformedREDIsDroppedAndCounted: RED whose blocks do not fit goes to
// nobody, not even its primary, and the worker counts it.
func TestMalformedREDIsDroppedAndCounted(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorkerWith(t, ipc.InitParams{Port: 46430, Loopback: true, RED: true})
	pr.redPT = redPayloadType
	l := connectListener(t, w, "T", nil)
	good := redPacketFor(2)
	for i, payload := range [][]byte{
		{0x80 | opusPayloadType, 0, 0, 0},                              // no primary header
		{0x80 | opusPayloadType, 0x03, 0xff, 0xff, opusPayloadType, 1}, // a block past the end
		good.Payload[:5], // the primary cut away
		nil,
	} {
		pkt := redPacketFor(uint16(10 + i))
		pkt.Payload = payload
		raw, err := pkt.Marshal()
		require.NoError(t, err)
		pr.dispatch(raw, pkt)
	}
	require.Equal(t, uint64(4), w.load().REDMalformed)
	require.Zero(t, w.packetsOut.Load())
	raw, err := good.Marshal()
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		pr.dispatch(raw, good)
		return l.received.Load() > 0
	}, 5*time.Second, 5*time.Millisecond, "well-formed RED still goes")
	require.Equal(t, uint64(4), w.load().REDMalformed)
}

// TestPipeCarriesREDUnderTheWorkersNumber: a pipe carries RED as the
// publisher sent it, under redPayloadType whatever the publisher's number,
// and Opus under opusPayloadType; the far end's producer takes it as RED.
func TestPipeCarriesREDUnderTheWorkersNumber(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	a := newBareWorker(t)
	require.NoError(t, a.createRouter("r", 0))
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close() })
	_, err = a.createPipe(ipc.PipeCreate{PipeID: "p", RouterID: "r", ListenIP: "127.0.0.1"})
	require.NoError(t, err)
	pa := a.pipes["p"]
	require.NoError(t, pa.connect(ipc.PipeConnect{PipeID: "p", RemoteAddr: sink.LocalAddr().String()}))
	src := newProducer("P", a.routers["r"])
	src.redPT = 100 // the publisher's number
	a.routers["r"].addProducer(src)
	require.NoError(t, pa.consume(ipc.PipeFlow{PipeID: "p", ProducerID: "P", SSRC: 77}))

	red := redPacketFor(3)
	red.PayloadType = 100
	plain := func() *rtp.Packet { _, p := opusPacket(4); return p }()
	buf := make([]byte, 1500)
	var carried [][]byte
	for _, pkt := range []*rtp.Packet{red, plain} {
		raw, err := pkt.Marshal()
		require.NoError(t, err)
		src.dispatch(raw, pkt)
		require.NoError(t, sink.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, _, err := sink.ReadFromUDPAddrPort(buf)
		require.NoError(t, err)
		carried = append(carried, append([]byte(nil), buf[:n]...))
	}
	var got rtp.Packet
	require.NoError(t, got.Unmarshal(carried[0]))
	require.Equal(t, uint8(redPayloadType), got.PayloadType)
	require.Equal(t, red.Payload, got.Payload)
	require.Equal(t, []byte{0x9e}, got.GetExtension(1))
	require.NoError(t, got.Unmarshal(carried[1]))
	require.Equal(t, uint8(opusPayloadType), got.PayloadType)

	// The far end: a piped producer takes redPayloadType as RED, and drops
	// a malformed one.
	b := newBareWorker(t)
	require.NoError(t, b.createRouter("r", 0))
	_, err = b.createPipe(ipc.PipeCreate{PipeID: "p", RouterID: "r", ListenIP: "127.0.0.1"})
	require.NoError(t, err)
	pb := b.pipes["p"]
	require.NoError(t, pb.produce(ipc.PipeFlow{PipeID: "p", ProducerID: "P", SSRC: 77}))
	var pkt rtp.Packet
	pb.receive(carried[0], nil, &pkt)
	pb.receive(carried[1], nil, &pkt)
	require.Zero(t, b.load().REDMalformed)
	bad := append([]byte(nil), carried[0]...)
	bad = bad[:len(bad)-len(red.Payload)+3] // the first block header cut
	pb.receive(bad, nil, &pkt)
	require.Equal(t, uint64(1), b.load().REDMalformed)
	require.Equal(t, uint8(redPayloadType), b.producers["P"].redPT)
}

// inet4 is c's local address as a route's destination.
func inet4(c *net.UDPConn) unix.RawSockaddrInet4 {
	return udpmsg.Inet4(c.LocalAddr().(*net.UDPAddr).AddrPort())
}

// openAsListener decrypts an SRTP packet the worker sealed with keys, as the
// listener's stack does (the same master key and salt).
func openAsListener(tb testing.TB, keys *srtpKeys, sealed []byte) *rtp.Packet {
	tb.Helper()
	ctx, err := keys.newContext()
	require.NoError(tb, err)
	var hdr rtp.Header
	plain, err := ctx.DecryptRTP(nil, sealed, &hdr)
	require.NoError(tb, err)
	var pkt rtp.Packet
	require.NoError(tb, pkt.Unmarshal(plain))
	return &pkt
}

// TestREDLevelsReachTheSpeakerObserver: the RFC 6464 audio level of RED
// packets is read from their header, as of plain ones, so that active
// speakers and loudest-N see RED publishers; a loudest-N router forwards the
// loudest RED publisher and holds the quiet one back.
func TestREDLevelsReachTheSpeakerObserver(t *testing.T) {
	w := newBareWorker(t)
	require.NoError(t, w.createRouter("r", 1))
	r := w.routers["r"]
	r.speakerRound.Stop() // the test ticks its own observer
	loud, quiet := newProducer("LOUD", r), newProducer("QUIET", r)
	for _, p := range []*producer{loud, quiet} {
		p.levelExtID, p.redPT = 1, redPayloadType
		r.addProducer(p)
	}
	var events [][]ipc.SpeakerLevel
	o := newSpeakerObserver(r, func(s []ipc.SpeakerLevel) { events = append(events, s) })
	for seq := uint16(1); seq <= 5; seq++ {
		pkt := redPacketFor(seq) // level 0x1e: -30 dBov
		raw, err := pkt.Marshal()
		require.NoError(t, err)
		loud.dispatch(raw, pkt)
		require.NoError(t, pkt.SetExtension(1, []byte{0x7f})) // -127 dBov: silence
		raw, err = pkt.Marshal()
		require.NoError(t, err)
		quiet.dispatch(raw, pkt)
	}
	o.tick()
	require.Equal(t, [][]ipc.SpeakerLevel{{{ProducerID: "LOUD", Level: 127 - 0x1e}}}, events)
	require.True(t, loud.selected.Load(), "loudest-N forwards the loud RED publisher")
	require.False(t, quiet.selected.Load())
	require.Zero(t, w.redMalformed.Load())
}

// TestREDAcrossAPipeIsStrippedOnTheFarSide: a RED publisher on one worker
// reaches listeners of another through an SRTP pipe (as between hosts): the
// pipe carries RED, and the far worker gives its RED listener RED and its
// Opus listener the primary.
func TestREDAcrossAPipeIsStrippedOnTheFarSide(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	far, _ := testWorkerWith(t, ipc.InitParams{Port: 46450, Loopback: true, RED: true})
	near := newBareWorker(t)
	require.NoError(t, near.createRouter("r", 0))
	en, err := near.createPipe(ipc.PipeCreate{PipeID: "p", RouterID: "r", ListenIP: "127.0.0.1"})
	require.NoError(t, err)
	ef, err := far.createPipe(ipc.PipeCreate{PipeID: "p", RouterID: "r", ListenIP: "127.0.0.1"})
	require.NoError(t, err)
	k1, k2 := key(), key()
	require.NoError(t, near.pipes["p"].connect(ipc.PipeConnect{PipeID: "p", RemoteAddr: ef.LocalAddr, SRTP: &ipc.PipeSRTP{SendKey: k1, RecvKey: k2}}))
	require.NoError(t, far.pipes["p"].connect(ipc.PipeConnect{PipeID: "p", RemoteAddr: en.LocalAddr, SRTP: &ipc.PipeSRTP{SendKey: k2, RecvKey: k1}}))
	src := newProducer("MIC", near.routers["r"])
	src.redPT = 100 // the publisher's number for RED
	near.routers["r"].addProducer(src)
	require.NoError(t, far.pipes["p"].produce(ipc.PipeFlow{PipeID: "p", ProducerID: "MIC", SSRC: 77, LevelExtID: 1}))
	require.NoError(t, near.pipes["p"].consume(ipc.PipeFlow{PipeID: "p", ProducerID: "MIC", SSRC: 77}))
	red := connectListenerTo(t, far, "L1", "MIC", nil, webrtc.WithMediaEngine(redEngine(t)))
	opus := connectListenerTo(t, far, "L2", "MIC", nil)
	seq := uint16(1)
	require.Eventually(t, func() bool {
		seq++
		pkt := redPacketFor(seq)
		pkt.PayloadType = 100
		raw, err := pkt.Marshal()
		require.NoError(t, err)
		src.dispatch(raw, pkt)
		for _, l := range []*testListener{red, opus} {
			if last := l.last.Load(); last == nil || last.SequenceNumber != seq {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "both listeners hear the piped stream")
	_, primary := opusPacket(seq)
	got := red.last.Load()
	require.Equal(t, uint8(redPayloadType), got.PayloadType)
	require.Equal(t, redPacketFor(seq).Payload, got.Payload)
	got = opus.last.Load()
	require.Equal(t, uint8(opusPayloadType), got.PayloadType)
	require.Equal(t, primary.Payload, got.Payload)
	require.Equal(t, []byte{0x9e}, got.GetExtension(1))
	require.Zero(t, far.load().REDMalformed)
}
