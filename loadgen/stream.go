package loadgen

import (
	"sync"
	"time"
)

// stream is what one listener saw of one remote SSRC: which sequence numbers
// arrived (a bitmap, so duplicates count once) and the RFC 3550 jitter.
type stream struct {
	mu   sync.Mutex
	seen seqBits // the sequence numbers that arrived
	// dropped holds the sequence numbers whose first copy the listener's
	// impaired socket dropped (raw loss on the way in, impairaccount.go).
	dropped  seqBits
	nack     nackState // nackgen.go
	red      redState  // redrecover.go
	packets  uint64
	jitter   float64 // RFC 3550 §6.4.1 interarrival jitter, in RTP timestamp units
	lastTS   uint32
	lastRecv time.Time
	started  bool
	sampleN  int
	// sampled holds the arrival time of packets let through for decryption, until
	// their payload (with its send time) is read.
	sampled map[uint16]time.Time
}

// maxSampled bounds sampled: entries whose payload never arrives are dropped.
const maxSampled = 256

func (s *stream) keepSample(seq uint16, at time.Time) {
	s.mu.Lock()
	if s.sampled == nil || len(s.sampled) >= maxSampled {
		s.sampled = map[uint16]time.Time{}
	}
	s.sampled[seq] = at
	s.mu.Unlock()
}

func (s *stream) takeSample(seq uint16) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.sampled[seq]
	delete(s.sampled, seq)
	return at, ok
}

const clockRate = 48000

// add records a packet's arrival; retransmission reports a later copy.
func (s *stream) add(seq uint16, ts uint32, now time.Time) (retransmission bool) {
	s.mu.Lock()
	s.seen.forget(seq)
	s.dropped.forget(seq)
	if s.seen.has(seq) || s.dropped.has(seq) {
		// A copy after the first (arrived or dropped): a NACK's answer.
		s.seen.set(seq)
		s.mu.Unlock()
		return true // a late copy says nothing of the path's jitter
	}
	s.seen.set(seq)
	s.packets++
	if s.started {
		// D(i,j) = (Rj - Ri) - (Sj - Si), in timestamp units; J += (|D| - J) / 16
		d := now.Sub(s.lastRecv).Seconds()*clockRate - float64(int32(ts-s.lastTS))
		if d < 0 {
			d = -d
		}
		s.jitter += (d - s.jitter) / 16
	}
	s.started, s.lastTS, s.lastRecv = true, ts, now
	s.mu.Unlock()
	return false
}

// countRange counts sequence numbers in [from, to) (modulo 2^16) that arrived.
func (s *stream) countRange(from, to uint16) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.countRange(from, to)
}

// seqBits is a set of 16-bit sequence numbers, one bit each.
type seqBits [1024]uint64

func (b *seqBits) set(seq uint16)      { b[seq>>6] |= 1 << (seq & 63) }
func (b *seqBits) has(seq uint16) bool { return b[seq>>6]&(1<<(seq&63)) != 0 }

// forgetAhead is how far ahead of the sequence number arriving forget clears
// the set: what was set more than 2^16-forgetAhead packets ago (20.5 min of
// 20 ms frames, longer than a window) is gone before the numbers wrap onto
// it, and a retransmission (within a second) still finds its first copy.
const forgetAhead = 4096

// forget clears the 64 numbers around seq+forgetAhead.
func (b *seqBits) forget(seq uint16) { b[(seq+forgetAhead)>>6] = 0 }

// countRange counts the members in [from, to) (modulo 2^16).
func (b *seqBits) countRange(from, to uint16) uint64 {
	var n uint64
	for seq := from; seq != to; seq++ {
		if b.has(seq) {
			n++
		}
	}
	return n
}

// seqCount is how many sequence numbers lie in [from, to).
func seqCount(from, to uint16) uint64 { return uint64(to - from) }
