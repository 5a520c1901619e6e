package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
