package worker

import (
	"bytes"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// The worker parses bytes peers control in its own code (STUN consent checks,
// the publishers' SRTP, answers and candidates): each has a fuzz target here;
// `make fuzz` runs them, `make test` their seeds (testdata/fuzz and f.Add).

// FuzzConsentHandle: any datagram from a peer's address or another is answered
// (a well-formed, signed success response) or handed on to pion unchanged.
func FuzzConsentHandle(f *testing.F) {
	good := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewUsername(consentLocalUfrag+":"+consentRemoteUfrag),
		stun.NewShortTermIntegrity(consentLocalPwd), stun.Fingerprint).Raw
	f.Add(good)
	f.Add(good[:len(good)-4])
	f.Add([]byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{0x80, 111, 0, 1})
	k := newTestKeeper()
	f.Cleanup(k.p.stop)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, from := range []netip.AddrPort{consentRemote, netip.MustParseAddrPort("127.0.0.9:9")} {
			var rec recorder
			orig := bytes.Clone(pkt)
			buf := bytes.Clone(pkt)
			n, deliver := k.handle(buf, len(buf), from, rec.write)
			if deliver {
				if n != len(pkt) || !bytes.Equal(buf[:n], orig) {
					t.Fatalf("a datagram handed on to pion changed")
				}
				continue
			}
			if from != consentRemote || len(rec.pkts) > 1 {
				t.Fatalf("answered a datagram from %v with %d packets", from, len(rec.pkts))
			}
			for _, resp := range rec.pkts {
				m := &stun.Message{Raw: resp}
				if err := m.Decode(); err != nil || m.Type != stun.BindingSuccess {
					t.Fatalf("answered with a message that is no binding success: %v", err)
				}
				if err := stun.NewShortTermIntegrity(consentLocalPwd).Check(m); err != nil {
					t.Fatalf("answer not signed: %v", err)
				}
			}
		}
	})
}

// FuzzCheckAnswer: any answer text is accepted or refused, never a panic.
func FuzzCheckAnswer(f *testing.F) {
	offer := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef012345\r\n" +
		"a=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n"
	answer := "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:wxyz\r\na=ice-pwd:abcdefabcdefabcdefabcd\r\n" +
		"a=fingerprint:sha-256 22:33\r\na=setup:active\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\n"
	if checkAnswer(offer, answer) != nil {
		f.Fatal("the seed answer should pass")
	}
	f.Add(answer)
	f.Add("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
	f.Add("v=0\r\nthis is not sdp")
	f.Add("")
	f.Fuzz(func(t *testing.T, a string) {
		_ = checkAnswer(offer, a)
		_ = checkAnswer(a, answer)
	})
}

// FuzzCheckCandidate: any trickled candidate is accepted or refused with
// bad_candidate, never a panic.
func FuzzCheckCandidate(f *testing.F) {
	for _, c := range []string{"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "candidate:bogus", "",
		"candidate:1 1 tcp 1 127.0.0.1 9 typ host tcptype active", "candidate:1 1 udp 1 x.local 5 typ host",
		"candidate:1 1 udp 1 ::1 5 typ srflx raddr 0.0.0.0 rport 0"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c string) {
		_ = checkCandidate(c, false, false)
		_ = checkCandidate(c, true, true)
	})
}

// FuzzIngressTake: any datagram from the publisher's address is decrypted
// and passed on, or left to pion untouched; the datagram itself never
// changes and a forged one is never passed on.
func FuzzIngressTake(f *testing.F) {
	keys := testPublisherKeys()
	seal := testSealer(f, keys, srtp.CryptexModeEnabled)
	for seq := uint16(1); seq < 4; seq++ {
		f.Add(seal(seq, 42))
	}
	forged := seal(9, 42)
	forged[len(forged)-1] ^= 1
	f.Add(forged)
	f.Add([]byte{0x80, 200, 0, 6, 0, 0, 0, 42})
	w := newBareWorker(f) // no sockets: each fuzzing process makes its own
	if err := w.createRouter("r", 0); err != nil {
		f.Fatal(err)
	}
	pr := newProducer("P", w.routers["r"])
	ing, err := newIngress(pr, 42, keys, srtp.CryptexModeEnabled)
	if err != nil {
		f.Fatal(err)
	}
	table := &ingressTable{}
	pub := netip.MustParseAddrPort("127.0.0.1:5000")
	table.set(pub, ing)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		orig := bytes.Clone(pkt)
		taken := table.take(pkt, pub)
		if !bytes.Equal(orig, pkt) {
			t.Fatal("the datagram changed")
		}
		select {
		case b := <-ing.ready:
			if !taken {
				t.Fatal("passed on a packet it did not take")
			}
			ing.free <- b[:cap(b)]
		default:
		}
		if table.lookup(pub) == nil { // it gave its stream up to pion: take it back for the next input
			ing, _ = newIngress(pr, 42, keys, srtp.CryptexModeEnabled)
			table.set(pub, ing)
		}
	})
}

// FuzzPipeReceive: any datagram at a pipe end, plain or SRTP, is parsed and
// passed to its producer, or counted as rejected: never a panic; with SRTP
// nothing unauthenticated gets through.
func FuzzPipeReceive(f *testing.F) {
	good := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 1, SSRC: 77}, Payload: make([]byte, 80)}
	raw, _ := good.Marshal()
	f.Add(raw, false)
	f.Add(raw, true)
	f.Add([]byte{0x80}, false)
	f.Add([]byte{}, true)
	ends := map[bool]*pipeTransport{}
	for _, protected := range []bool{false, true} {
		w := newBareWorker(f)
		if err := w.createRouter("r", 0); err != nil {
			f.Fatal(err)
		}
		if _, err := w.createPipe(ipc.PipeCreate{PipeID: "p", RouterID: "r", ListenIP: "127.0.0.1"}); err != nil {
			f.Fatal(err)
		}
		pt := w.pipes["p"]
		var keys *ipc.PipeSRTP
		if protected {
			keys = &ipc.PipeSRTP{SendKey: key(), RecvKey: key()}
		}
		if err := pt.connect(ipc.PipeConnect{PipeID: "p", RemoteAddr: "127.0.0.1:9", SRTP: keys}); err != nil {
			f.Fatal(err)
		}
		if err := pt.produce(ipc.PipeFlow{PipeID: "p", ProducerID: "P", SSRC: 77}); err != nil {
			f.Fatal(err)
		}
		ends[protected] = pt
	}
	f.Fuzz(func(t *testing.T, data []byte, protected bool) {
		pt := ends[protected]
		in, rejected := pt.packetsIn.Load(), pt.rejected.Load()
		var pkt rtp.Packet
		_ = pt.receive(bytes.Clone(data), nil, &pkt)
		got := pt.packetsIn.Load() - in
		if got+pt.rejected.Load()-rejected != 1 {
			t.Fatalf("a datagram neither taken nor rejected")
		}
		if protected && got == 1 {
			t.Fatalf("an unauthenticated datagram passed a pipe with SRTP")
		}
	})
}

// FuzzReceiverReports: any RTCP a listener sends is parsed (pion's
// rtcp.Unmarshal, as the sender's ReadRTCP does) and its receiver reports
// taken: the worker's loss total only grows, by exactly what the listener's
// cumulative loss grew, and the kept jitter is the last report's.
func FuzzReceiverReports(f *testing.F) {
	rr := func(lost, jitter uint32) []byte {
		b, err := (&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2, TotalLost: lost, Jitter: jitter}}}).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(rr(5, 100))
	f.Add(append(rr(7, 1), rr(3, 2)...)) // a compound packet whose loss goes down
	f.Add(rr(1<<24-1, 0))
	f.Add([]byte{0x81, 201, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := rtcp.Unmarshal(data)
		if err != nil {
			return
		}
		c := &consumer{}
		var lost atomic.Uint64
		var want uint64
		var prev uint32
		var last *rtcp.ReceptionReport
		for _, p := range pkts {
			if r, ok := p.(*rtcp.ReceiverReport); ok {
				for i := range r.Reports {
					if r.Reports[i].TotalLost > prev {
						want += uint64(r.Reports[i].TotalLost - prev)
					}
					prev, last = r.Reports[i].TotalLost, &r.Reports[i]
				}
			}
		}
		c.takeReports(pkts, &lost)
		if lost.Load() != want {
			t.Fatalf("loss total %d, want %d", lost.Load(), want)
		}
		if last != nil && (c.jitter.Load() != last.Jitter || !c.reported.Load()) {
			t.Fatalf("kept jitter %d, want the last report's %d", c.jitter.Load(), last.Jitter)
		}
	})
}

// FuzzParseRED: any RED payload (RFC 2198) is taken or refused, never read
// out of bounds; a taken one has its primary block inside the payload, not
// empty, after every header, and renumbering its blocks changes nothing else.
func FuzzParseRED(f *testing.F) {
	f.Add(redPayload(redBlock{111, 960, []byte{9, 9, 9}}, redBlock{111, 0, []byte{1, 2, 3}}))
	f.Add(redPayload(redBlock{111, 0, []byte{1}}))
	f.Add([]byte{0x80 | 111, 0xff, 0xff, 0xff, 111, 1})
	f.Add([]byte{0x80 | 111, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := parseRED(payload)
		if err != nil {
			return
		}
		if p.blocks < 1 || p.blocks > maxREDBlocks || p.primaryLen < 1 ||
			p.primaryOff < 4*(p.blocks-1)+1 || p.primaryOff+p.primaryLen != len(payload) {
			t.Fatalf("taken with a layout outside the payload: %+v of %d bytes", p, len(payload))
		}
		out := bytes.Clone(payload)
		setREDBlockTypes(out, p.blocks, 109)
		for i := range out {
			if out[i] != payload[i] && (i >= 4*(p.blocks-1)+1 || i%4 != 0) {
				t.Fatalf("renumbering changed byte %d, not a block header's type", i)
			}
		}
	})
}
