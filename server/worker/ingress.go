package worker

import (
	"encoding/binary"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// ingressTable takes connected publishers' RTP off the worker's sockets in
// their read loop: it decrypts each packet (RFC 3711 §3.3, RFC 7714 §9) with
// the publisher's DTLS-SRTP keys and hands it to the stream's dispatcher, a
// goroutine that fans it out, instead of handing it to pion.
//
// Why: through pion a packet crossed four goroutines after the socket's reader
// (the ICE candidate's read loop, the DTLS/SRTP mux, the SRTP session, the
// track reader), each a copy and a hand-over through the scheduler; perf of a
// worker forwarding 2 publishers to 200 listeners put that chain at about 7%
// of its CPU, plus its share of the scheduler's. With the ingress the worker's
// CPU per forwarded packet went from 8.84 to 8.23 µs (voicectl loadgen run, 2
// publishers × 200 listeners on one worker; means of five alternated runs).
//
// Why a dispatcher rather than fanning out in the read loop: the loop also
// reads the ICE and DTLS packets of peers that are joining. While any are,
// fan-outs are blocking system calls that let the runtime run the control plane
// meanwhile (see sendBatch.flush); a loop stuck in them delayed the joiners'
// handshakes, which kept the worker in that costlier mode longer. A worker at
// 2,424 consumers in make bench's ramp went from 86% of a core to 94–97% and
// lost packets.
//
// Pion still brings up each stream: its receiver opens the track, and the
// track's reader opens the ingress at its first packet (producer.readTrack); the
// packets pion has buffered by then still come out of the track. Only RTP of
// the stream's SSRC from the transport's selected remote address is taken;
// RTCP, STUN, DTLS and anything else go to pion as before. A packet that does
// not authenticate before the ingress has opened one goes to pion too (keys
// that did not match would leave the stream to pion); after that it is a
// replay or a forgery and is dropped, as pion drops them.
type ingressTable struct {
	mu       sync.Mutex
	byRemote atomic.Pointer[map[netip.AddrPort]*ingress]

	// taken counts packets decrypted and passed to their dispatcher, rejected
	// those dropped for failing to authenticate or as replays, dropped those
	// that found the dispatcher ingressQueue packets behind.
	taken, rejected, dropped atomic.Uint64
}

// ingress is one publisher's stream as the worker's sockets take it.
type ingress struct {
	p    *producer
	ssrc uint32

	mu     sync.Mutex // the context: sockets' readers may share a remote
	ctx    *srtp.Context
	header rtp.Header
	opened bool // a packet authenticated
	failed int  // packets that did not, before one did

	// Decrypted packets travel to the dispatcher in buffers that it returns.
	free, ready chan []byte
	done        chan struct{}
	stopOnce    sync.Once
}

// srtpReplayWindow is how far back a packet may come and still be accepted
// once (RFC 3711 §3.3.2): pion's default for its sessions.
const srtpReplayWindow = 64

// maxIngressFailures is how many packets may fail to authenticate before any
// has: then the keys are not the publisher's and the stream stays with pion.
const maxIngressFailures = 8

// ingressQueue is how many packets may wait for a stream's dispatcher: 640 ms
// of 20 ms frames. Further ones are dropped, as a full socket buffer would
// drop them.
const ingressQueue = 32

// maxIngressPacket is the largest datagram an ingress takes; larger ones go to
// pion. Audio packets are a few hundred bytes.
const maxIngressPacket = 1500

// newIngress opens the stream ssrc of p, which its publisher protects with
// keys, and with RTP header encryption (RFC 9335) as cryptex says. Packets
// wait for run.
func newIngress(p *producer, ssrc uint32, keys *srtpKeys, cryptex srtp.CryptexMode) (*ingress, error) {
	ctx, err := srtp.CreateContext(keys.key, keys.salt, keys.profile, srtp.SRTPReplayProtection(srtpReplayWindow), srtp.Cryptex(cryptex))
	if err != nil {
		return nil, err
	}
	ing := &ingress{p: p, ssrc: ssrc, ctx: ctx,
		free: make(chan []byte, ingressQueue), ready: make(chan []byte, ingressQueue), done: make(chan struct{})}
	for range ingressQueue {
		ing.free <- make([]byte, maxIngressPacket)
	}
	return ing, nil
}

// run is the stream's dispatcher: it fans out the packets the sockets took
// until stop.
func (ing *ingress) run() {
	var pkt rtp.Packet
	for {
		select {
		case b := <-ing.ready:
			if pkt.Unmarshal(b) == nil {
				ing.p.dispatch(b, &pkt)
			}
			ing.free <- b[:cap(b)]
		case <-ing.done:
			return
		}
	}
}

// stop ends the dispatcher.
func (ing *ingress) stop() { ing.stopOnce.Do(func() { close(ing.done) }) }

// set makes ing the ingress of packets from remote.
func (t *ingressTable) set(remote netip.AddrPort, ing *ingress) {
	t.update(func(m map[netip.AddrPort]*ingress) { m[remote] = ing })
}

// remove forgets remote's ingress if it is still ing.
func (t *ingressTable) remove(remote netip.AddrPort, ing *ingress) {
	t.update(func(m map[netip.AddrPort]*ingress) {
		if m[remote] == ing {
			delete(m, remote)
		}
	})
}

// update changes a copy of the table: readers look it up without a lock, and
// publishers come and go rarely.
func (t *ingressTable) update(change func(map[netip.AddrPort]*ingress)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := map[netip.AddrPort]*ingress{}
	if old := t.byRemote.Load(); old != nil {
		next = maps.Clone(*old)
	}
	change(next)
	t.byRemote.Store(&next)
}

func (t *ingressTable) lookup(remote netip.AddrPort) *ingress {
	m := t.byRemote.Load()
	if m == nil {
		return nil
	}
	return (*m)[remote]
}

// take passes pkt, a datagram from remote, to its stream's dispatcher if it
// is RTP of a publisher's stream. It reports whether the packet was the
// ingress's: pion must not see it then.
func (t *ingressTable) take(pkt []byte, remote netip.AddrPort) bool {
	// RTP, not RTCP: version 2 and a payload type outside 64–95 (RFC 5761 §4).
	if len(pkt) < 12 || pkt[0]>>6 != 2 || (pkt[1] >= 192 && pkt[1] <= 223) || len(pkt) > maxIngressPacket {
		return false
	}
	ing := t.lookup(remote)
	if ing == nil || binary.BigEndian.Uint32(pkt[8:12]) != ing.ssrc {
		return false
	}
	var buf []byte
	select {
	case buf = <-ing.free:
	default:
		t.dropped.Add(1)
		return true
	}
	out, res := ing.open(pkt, buf)
	switch res {
	case opened:
		t.taken.Add(1)
		ing.ready <- out // never blocks: there are as many buffers as places
		return true
	case rejected:
		t.rejected.Add(1)
	case gaveUp:
		t.remove(remote, ing)
	}
	ing.free <- buf
	return res == rejected
}

type openResult int

const (
	opened   openResult = iota
	rejected            // dropped: a replay or a forgery
	toPion              // not authenticated, none has been yet: pion decides
	gaveUp              // the same, and the ingress gives its stream up to pion
)

// open decrypts pkt into buf.
func (ing *ingress) open(pkt, buf []byte) ([]byte, openResult) {
	ing.mu.Lock()
	defer ing.mu.Unlock()
	out, err := ing.ctx.DecryptRTP(buf[:0], pkt, &ing.header)
	switch {
	case err == nil:
		ing.opened = true
		return out, opened
	case ing.opened:
		return nil, rejected
	}
	ing.failed++
	if ing.failed >= maxIngressFailures {
		return nil, gaveUp
	}
	return nil, toPion
}
