package worker

import (
	"math/rand/v2"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"

	"github.com/voicectl/voicectl/internal/udpmsg"
)

// The worker asks a publisher that negotiated NACK for the packets it
// missed (RFC 4585 §6.2.1), as a receiver would: every listener lost them
// too, and a retransmission that arrives in time reaches them all. It asks
// at once, from the dispatch that sees the gap, and once more if the packet
// has not come nackRetryAfter later; not for a packet lost more than
// nackMaxAge ago, which no listener's jitter buffer would still take, nor
// across a jump of more than maxNACKGap packets (a new stream, an outage).
const (
	nackMaxAge     = 200 * time.Millisecond
	nackRetryAfter = 40 * time.Millisecond
	maxNACKTries   = 2
	maxNACKGap     = 16
	// maxMissing is how many packets the worker waits for at once; the
	// oldest give way to newer ones.
	maxMissing = 16
)

// lossTracker follows a publisher's sequence numbers for the packets missing
// from them. It is used under the producer's dispatchMu and allocates nothing.
type lossTracker struct {
	ssrc    uint32
	started bool
	maxSeq  uint16
	missing [maxMissing]missingPacket // in sequence order
	n       int
	due     [maxMissing]uint16 // dueAt's result
}

type missingPacket struct {
	seq             uint16
	tries           uint8
	lostAt, askedAt int64 // unix nanoseconds
}

// packet notes the arrival of packet seq of stream ssrc at now.
func (l *lossTracker) packet(ssrc uint32, seq uint16, now int64) {
	if !l.started || ssrc != l.ssrc {
		l.started, l.ssrc, l.maxSeq, l.n = true, ssrc, seq, 0
		return
	}
	d := seq - l.maxSeq
	switch {
	case d == 0:
	case d < 1<<15: // newer
		if d > maxNACKGap+1 {
			l.n = 0 // a jump: nothing before it is worth asking for
		}
		for s := l.maxSeq + 1; s != seq && d <= maxNACKGap+1; s++ {
			if l.n == maxMissing {
				copy(l.missing[:], l.missing[1:])
				l.n--
			}
			l.missing[l.n] = missingPacket{seq: s, lostAt: now}
			l.n++
		}
		l.maxSeq = seq
	default: // older: perhaps one it waits for, now here
		for i := 0; i < l.n; i++ {
			if l.missing[i].seq == seq {
				copy(l.missing[i:], l.missing[i+1:l.n])
				l.n--
				break
			}
		}
	}
}

// dueAt returns the packets to ask for at now, in sequence order, counts the
// asking, and forgets the packets too old or asked for often enough.
func (l *lossTracker) dueAt(now int64) []uint16 {
	k, kept := 0, 0
	for i := 0; i < l.n; i++ {
		m := l.missing[i]
		if now-m.lostAt > int64(nackMaxAge) {
			continue
		}
		if m.askedAt == 0 || now-m.askedAt >= int64(nackRetryAfter) {
			l.due[k] = m.seq
			k++
			m.tries++
			m.askedAt = now
		}
		if m.tries < maxNACKTries {
			l.missing[kept] = m
			kept++
		}
	}
	l.n = kept
	return l.due[:k]
}

// nackWriter sends a local producer's NACKs to its publisher. On the
// worker's own write path it seals them with the transport's keys in an SRTCP
// context of its own, under an SSRC of its own: the transport's receiver
// reports use another context, and two contexts must never number packets
// of one SSRC (RFC 3711 §9.1). It is used under the producer's dispatchMu.
type nackWriter struct {
	ssrc   uint32
	keys   *srtpKeys
	ctx    *srtp.Context
	hdr    rtcp.Header
	plain  []byte
	sealed []byte
}

// askForMissing sends the publisher a NACK for the packets due at now, if any.
func (p *producer) askForMissing(now int64) {
	seqs := p.loss.dueAt(now)
	if len(seqs) == 0 {
		return
	}
	t, w := p.t, p.r.w
	rt := t.route.Load()
	if rt == nil {
		return
	}
	o := &p.nackOut
	if o.ssrc == 0 {
		o.ssrc = rand.Uint32() | 1
		o.plain, o.sealed = make([]byte, 0, reportBufferLen), make([]byte, 0, reportBufferLen)
	}
	media := p.loss.ssrc
	if !rt.fast() {
		n := &rtcp.TransportLayerNack{SenderSSRC: o.ssrc, MediaSSRC: media, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
		if t.pc.WriteRTCP([]rtcp.Packet{n}) == nil {
			w.nacks.asked.Add(uint64(len(seqs)))
		}
		return
	}
	if o.keys != rt.keys {
		ctx, err := rt.keys.newContext()
		if err != nil {
			return
		}
		o.keys, o.ctx = rt.keys, ctx
	}
	o.plain = appendNACK(o.plain[:0], o.ssrc, media, seqs)
	sealed, err := o.ctx.EncryptRTCP(o.sealed[:0], o.plain, &o.hdr)
	if err != nil {
		return
	}
	o.sealed = sealed
	if _, err := rt.sock.writeTo(sealed, udpmsg.AddrPort4(&rt.dst)); err == nil {
		w.nacks.asked.Add(uint64(len(seqs)))
	}
}
