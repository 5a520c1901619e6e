package worker

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// maxResends is how often one packet is re-sent to one listener: a second
// NACK for it means the first retransmission was lost too; a third, that the
// path is too lossy for retransmission to help.
const maxResends = 2

// retransmitState is what a consumer keeps to answer its listener's NACKs,
// made on its first NACK (most listeners never send one) and used under the
// producer's dispatchMu.
type retransmitState struct {
	limit retransmitLimiter
	// resent counts the retransmissions of each history slot's packet to
	// this listener; at tells which packet the count is for (the slot's
	// keep time), so a slot's next packet starts from zero.
	resent [historySlots]struct {
		at int64
		n  uint8
	}
}

// nackCounters are the worker's totals for NACKs from listeners.
type nackCounters struct {
	requested atomic.Uint64 // packets listeners asked for
	resent    atomic.Uint64 // retransmissions sent
	refused   atomic.Uint64 // asked for, but over maxResends or the listener's rate
	missing   atomic.Uint64 // asked for, not in the history (too old, never forwarded)
	asked     atomic.Uint64 // packets the worker asked publishers for (nackout.go)
}

// refreshNACK sets whether p keeps a history: whether any of its consumers'
// transports negotiated NACK. It runs as consumers come and go and as their
// transports' answers change it; p.mu orders the runs.
func (p *producer) refreshNACK() {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := false
	for _, c := range *p.consumers.Load() {
		if c.t.nack.Load() {
			want = true
			break
		}
	}
	p.keepHistory.Store(want)
}

// takeNACKs answers the generic NACKs (RFC 4585 §6.2.1) among pkts, the
// listener's RTCP, on the transports that negotiated them.
func (c *consumer) takeNACKs(pkts []rtcp.Packet) {
	for _, p := range pkts {
		if n, ok := p.(*rtcp.TransportLayerNack); ok && n.MediaSSRC == c.ssrc && c.t.nack.Load() {
			c.retransmit(n.Nacks, time.Now().UnixNano())
		}
	}
}

// retransmit re-sends c's listener the packets pairs name that the producer's
// history still holds, within the limits, in one batch. It holds the
// producer's dispatchMu: c's SRTP state and the batch are the dispatcher's.
func (c *consumer) retransmit(pairs []rtcp.NackPair, now int64) {
	p, w := c.producer, c.t.w
	p.dispatchMu.Lock()
	defer p.dispatchMu.Unlock()
	rt := c.route.Load()
	if rt == nil || !c.bound.Load() {
		return
	}
	if c.rtx == nil {
		c.rtx = &retransmitState{}
	}
	var seqs [maxPairSeqs]uint16
	var sent, bytes uint64
	for _, pair := range pairs {
		n := pairSeqs(pair, &seqs)
		w.nacks.requested.Add(uint64(n))
		for _, seq := range seqs[:n] {
			raw := p.history.lookup(seq, now)
			if raw == nil {
				w.nacks.missing.Add(1)
				continue
			}
			r := &c.rtx.resent[seq&(historySlots-1)]
			if at := p.history.slots[seq&(historySlots-1)].at; r.at != at {
				r.at, r.n = at, 0
			}
			if r.n >= maxResends || !c.rtx.limit.allow(now) {
				w.nacks.refused.Add(1)
				continue
			}
			if !c.resend(rt, &p.batch, raw) {
				continue
			}
			r.n++
			sent++
			bytes += uint64(len(raw))
		}
	}
	if rt.fast() {
		p.batch.flush(w.handshakes.Load() > 0)
	}
	w.nacks.resent.Add(sent)
	w.bytesOut.Add(bytes)
}

// resend sends raw, a packet c forwarded before, again: through the same
// write path and header rewrite as forward, so the listener gets the packet
// it missed, under the same SSRC, sequence number and SRTP index. The history
// holds packets as they arrived, so a RED publisher's (RFC 2198) is parsed
// again here as dispatch does: a listener without RED gets its primary block
// as Opus, one with RED gets RED renumbered to its payload types.
func (c *consumer) resend(rt *route, b *sendBatch, raw []byte) bool {
	p := c.producer
	isRED := p.redPT != 0 && len(raw) > 1 && raw[1]&0x7f == p.redPT
	if rt.fast() && !isRED {
		return c.queueSRTP(rt, b, raw, sealableHeaderLen(raw), nil)
	}
	pkt := &p.rtxPacket
	if pkt.Unmarshal(raw) != nil {
		return false
	}
	if !isRED {
		return c.track.WriteRTP(pkt) == nil
	}
	red, err := parseRED(pkt.Payload)
	if err != nil {
		return false
	}
	if rt.fast() {
		return c.queueSRTP(rt, b, raw, sealableHeaderLen(raw), &red)
	}
	return c.track.writeRED(pkt, red) == nil
}
