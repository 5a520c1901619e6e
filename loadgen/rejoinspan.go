package loadgen

import "github.com/voicectl/voicectl/client"

// Loss over rejoined spans. A peer that rejoined (a move followed, a
// reconnect after its server drained or died) has a new client, with new
// sequence numbers on a new stream; a run in which every peer rejoined
// still reports its loss, over the part of the window where both a
// listener's and a publisher's current clients were up: from the later of
// their take-overs (swap), or from the window's start for one that did not
// rejoin, on. The span is counted from the first packet the listener heard
// in it: the time before, while its client was subscribing, is the
// listener's gap (ListenerGapsMs), not loss.

// spanMark is where a publisher's client was when a listener's new client
// took over.
type spanMark struct {
	c   *client.Client
	seq uint16
}

// markSpan records, for p's new client, where each publisher of its room
// is: the span between them starts there unless the publisher's client
// changes later.
func (s *Session) markSpan(p *peer) {
	s.mu.Lock()
	peers := append([]*peer(nil), s.peers...)
	s.mu.Unlock()
	marks := map[*peer]spanMark{}
	for _, q := range peers {
		if q != p && q.publish && q.room == p.room {
			c := q.client()
			marks[q] = spanMark{c: c, seq: c.NextSeq()}
		}
	}
	p.cmu.Lock()
	p.marks = marks
	p.cmu.Unlock()
}

// spanStart is the first sequence number of q's current client that l's
// current client is expected to hear in the window: seq0 (q's at the
// window's start) when neither rejoined in it, else where the later of the
// two clients took over.
func spanStart(l, q *peer, seq0 uint16, lRejoined, qRejoined bool) uint16 {
	from := seq0
	q.cmu.Lock()
	qc, qJoin := q.c, q.joinSeq
	q.cmu.Unlock()
	if qRejoined {
		from = qJoin
	}
	if lRejoined {
		l.cmu.Lock()
		m, ok := l.marks[q]
		l.cmu.Unlock()
		if ok && m.c == qc {
			from = m.seq // l's client took over after q's current one
		}
	}
	return from
}

// rejoinedSpan is where a rejoined pair's loss is counted from: the first
// packet heard in [from, to), and the stream; a nil stream when none of it
// was heard (the listener is missing the publisher's stream), counted from
// from.
func rejoinedSpan(st *stream, from, to uint16) (uint16, *stream) {
	if st == nil {
		return from, nil
	}
	first, ok := st.firstHeard(from, to)
	if !ok {
		return from, nil
	}
	return first, st
}

// firstHeard is the first sequence number in [from, to) that st saw; ok is
// false when it saw none.
func (s *stream) firstHeard(from, to uint16) (seq uint16, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq := from; seq != to; seq++ {
		if s.seen.has(seq) {
			return seq, true
		}
	}
	return to, false
}
