package amqp

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// The labelled counters exist before their first event, at 0.
func TestBusCountersStartAtZero(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	require.Equal(t, 3, testutil.CollectAndCount(m.published))
	require.Equal(t, 2, testutil.CollectAndCount(m.confirms))
	require.Zero(t, testutil.ToFloat64(m.confirms.WithLabelValues("nack")))
}
