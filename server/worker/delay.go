package worker

import (
	"math"
	"sync/atomic"
	"time"
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

// quantile returns the upper bound (in milliseconds) of the bucket holding quantile q.
func (h *delayHistogram) quantile(q float64) float64 {
	var total uint64
	var counts [delayBuckets]uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			return math.Pow(2, float64(i)/4) / 1000
		}
	}
	return math.Pow(2, float64(delayBuckets-1)/4) / 1000
}
