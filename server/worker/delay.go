package worker

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/voicectl/voicectl/server/wire"
)

// delayHistogram counts forwarding delays (packet read → last copy written) in
// log-spaced buckets: bucket i holds delays up to 2^(i/4) µs. Lock-free, so the
// forwarding path pays two clock reads and one atomic add per packet.
type delayHistogram struct {
	buckets [delayBuckets]atomic.Uint64
}

const delayBuckets = 96 // up to 2^24 µs ≈ 16 s

func bucketOf(d time.Duration) int {
	us := float64(d.Nanoseconds()) / 1000
	if us <= 1 {
		return 0
	}
	return min(int(math.Ceil(4*math.Log2(us))), delayBuckets-1)
}

func (h *delayHistogram) observe(d time.Duration) { h.buckets[bucketOf(d)].Add(1) }

// counts reads the buckets.
func (h *delayHistogram) counts() []uint64 {
	out := make([]uint64, delayBuckets)
	for i := range h.buckets {
		out[i] = h.buckets[i].Load()
	}
	return out
}

// quantile returns the upper bound (in milliseconds) of the bucket holding quantile q.
func (h *delayHistogram) quantile(q float64) float64 {
	return wire.ForwardDelayQuantileMs(h.counts(), q)
}
