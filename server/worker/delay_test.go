package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

func TestDelayHistogramQuantiles(t *testing.T) {
	var h delayHistogram
	require.Zero(t, h.quantile(0.5))
	for i := 0; i < 98; i++ {
		h.observe(100 * time.Microsecond)
	}
	h.observe(3 * time.Millisecond)
	h.observe(3 * time.Millisecond)
	p50, p99 := h.quantile(0.5), h.quantile(0.99)
	require.InDelta(t, 0.1, p50, 0.02, "bucket bounds are within 19%% of the value")
	require.InDelta(t, 3.0, p99, 0.6)
	require.Less(t, p50, p99)
}

// TestDelayHistogramExportsItsBuckets: the buckets read out give the same
// quantiles through the wire helper that interval readers (loadgen) use.
func TestDelayHistogramExportsItsBuckets(t *testing.T) {
	var h delayHistogram
	for i := 0; i < 99; i++ {
		h.observe(200 * time.Microsecond)
	}
	h.observe(20 * time.Millisecond)
	b := h.counts()
	require.Len(t, b, delayBuckets)
	require.EqualValues(t, 99, b[bucketOf(200*time.Microsecond)])
	require.Equal(t, h.quantile(0.99), wire.ForwardDelayQuantileMs(b, 0.99))
	require.InDelta(t, 0.2, wire.ForwardDelayQuantileMs(b, 0.99), 0.04)
	require.InDelta(t, 20, wire.ForwardDelayQuantileMs(b, 1), 4)
}
