package loadgen

import (
	"time"

	"github.com/voicectl/voicectl/client"
)

// A listener's NACK generator, as libwebrtc's audio NACK module behaves in
// outline: a gap in a stream's sequence numbers is asked for at once (RFC
// 4585 generic NACK), asked again every nackRetry while it stays missing, at
// most nackTries times and not past nackGiveUp (a packet later than that is
// too late for the jitter buffer). It runs in the tap, which sees every
// packet's header: pion's generator interceptor would see only the packets
// the tap lets through for decryption and ask for all the others.
const (
	nackMaxGap = 50 // a larger jump is a restart of the stream, not a loss
	nackRetry  = 100 * time.Millisecond
	nackTries  = 3
	nackGiveUp = 500 * time.Millisecond
)

type nackEntry struct {
	first, last time.Time
	tries       int
}

// nackState is a stream's generator, under the stream's mu.
type nackState struct {
	started bool
	high    uint16
	pending map[uint16]*nackEntry
}

// nackCheck records seq's arrival at now and returns the sequence numbers to
// ask for now: a new gap's, and the missing ones due again.
func (s *stream) nackCheck(seq uint16, now time.Time, out []uint16) []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := &s.nack
	if !n.started {
		n.started, n.high = true, seq
		return out
	}
	if d := int16(seq - n.high); d > 0 {
		if d > 1 && d <= nackMaxGap {
			if n.pending == nil {
				n.pending = map[uint16]*nackEntry{}
			}
			for m := n.high + 1; m != seq; m++ {
				n.pending[m] = &nackEntry{first: now, last: now, tries: 1}
				out = append(out, m)
			}
		}
		n.high = seq
	} else {
		delete(n.pending, seq) // late, or a retransmission: no more asking
	}
	for m, e := range n.pending {
		switch {
		case now.Sub(e.first) > nackGiveUp || (e.tries >= nackTries && now.Sub(e.last) >= nackRetry):
			delete(n.pending, m)
		case e.tries < nackTries && now.Sub(e.last) >= nackRetry:
			e.tries++
			e.last = now
			out = append(out, m)
		}
	}
	return out
}

// nacks reports whether the peer asks for its gaps in what it hears: its
// answer kept NACK (a publisher hears the room's other publishers).
func (p *peer) nacks() bool { return p.nackKept.kept(p.client(), (*client.Client).NACKNegotiated) }

// sendNACKs asks the server again for seqs of the stream ssrc.
func (p *peer) sendNACKs(ssrc uint32, seqs []uint16) {
	if len(seqs) == 0 {
		return
	}
	if c := p.client(); c != nil && c.NACK(ssrc, seqs) == nil {
		p.nacked.Add(uint64(len(seqs)))
	}
}
