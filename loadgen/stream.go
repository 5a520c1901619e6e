package loadgen

import (
	"sync"
	"time"
)

// stream is what one listener saw of one remote SSRC: which sequence numbers
// arrived (a bitmap, so duplicates count once) and the RFC 3550 jitter.
type stream struct {
	mu       sync.Mutex
	seen     [1024]uint64 // one bit per 16-bit sequence number
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

func (s *stream) add(seq uint16, ts uint32, now time.Time) {
	s.mu.Lock()
	s.seen[seq>>6] |= 1 << (seq & 63)
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
}

// countRange counts sequence numbers in [from, to) (modulo 2^16) that arrived.
func (s *stream) countRange(from, to uint16) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	for seq := from; seq != to; seq++ {
		if s.seen[seq>>6]&(1<<(seq&63)) != 0 {
			n++
		}
	}
	return n
}

// seqCount is how many sequence numbers lie in [from, to).
func seqCount(from, to uint16) uint64 { return uint64(to - from) }
