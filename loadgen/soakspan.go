package loadgen

import "sync"

// span counts what one admission (one client, from join to leave) received of
// one remote stream: the extended sequence numbers it saw first and last
// (RFC 3550 §A.1's cycles) and how many distinct packets lay between. Loss is
// counted inside that span, so a join, a leave or a reconnect (which gives the
// peer a new client) is not loss; its cost shows as the rejoin time instead.
type span struct {
	first, last int64
	cycles      int64
	maxSeq      uint16
	started     bool
	got         uint64
	seen        [1024]uint64 // one bit per 16-bit sequence number of the last 2^16
	// earlier holds expected and received packets of spans closed by a
	// discontinuity (the stream's sequence jumped by more than maxJump).
	earlierExp, earlierGot uint64
	jumps                  int
}

// maxJump is the largest step in sequence numbers taken as loss or
// reordering (a minute of 20 ms packets); a larger one starts a new span.
const maxJump = 3000

func (s *span) add(seq uint16) {
	if !s.started {
		s.restart(seq)
		return
	}
	delta := int64(int16(seq - s.maxSeq))
	ext := s.cycles + int64(s.maxSeq) + delta
	if delta > maxJump || delta < -maxJump {
		exp, got := s.counts()
		s.earlierExp, s.earlierGot = s.earlierExp+exp, s.earlierGot+got
		s.jumps++
		s.restart(seq)
		return
	}
	if delta > 0 {
		// The numbers now ahead were last seen 2^16 packets ago: forget them.
		for q := s.maxSeq + 1; q != seq; q++ {
			s.seen[q>>6] &^= 1 << (q & 63)
		}
		s.seen[seq>>6] &^= 1 << (seq & 63)
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq, s.last = seq, ext
	}
	if ext < s.first {
		s.first = ext
	}
	if bit := uint64(1) << (seq & 63); s.seen[seq>>6]&bit == 0 {
		s.seen[seq>>6] |= bit
		s.got++
	}
}

func (s *span) restart(seq uint16) {
	s.seen = [1024]uint64{}
	s.started, s.cycles, s.maxSeq = true, 0, seq
	s.first, s.last = int64(seq), int64(seq)
	s.seen[seq>>6] |= 1 << (seq & 63)
	s.got = 1
}

// counts is the current span's expected and received packets.
func (s *span) counts() (expected, got uint64) {
	if !s.started {
		return 0, 0
	}
	expected = uint64(s.last - s.first + 1)
	return expected, min(s.got, expected)
}

// admission is what one client of a listener received, by remote SSRC.
type admission struct {
	mu    sync.Mutex
	spans map[uint32]*span
}

func newAdmission() *admission { return &admission{spans: map[uint32]*span{}} }

func (a *admission) add(ssrc uint32, seq uint16) {
	a.mu.Lock()
	sp := a.spans[ssrc]
	if sp == nil {
		sp = &span{}
		a.spans[ssrc] = sp
	}
	sp.add(seq)
	a.mu.Unlock()
}

// totals adds up every stream's spans.
func (a *admission) totals() (expected, got uint64, streams, jumps int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, sp := range a.spans {
		e, g := sp.counts()
		expected += e + sp.earlierExp
		got += g + sp.earlierGot
		jumps += sp.jumps
	}
	return expected, got, len(a.spans), jumps
}
