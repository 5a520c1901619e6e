package control

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
)

func TestQualityHistogramFromWorkerBuckets(t *testing.T) {
	counts := make([]uint64, len(ipc.QualityScoreBounds)+1)
	counts[0] = 1                             // one score of 20 or less
	counts[len(ipc.QualityScoreBounds)-1] = 3 // three up to 95
	counts[len(ipc.QualityScoreBounds)] = 6   // six above 95
	m, ok := constHistogram(dQualityScore, ipc.QualityScoreBounds, counts, 900, "0")
	require.True(t, ok)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(oneMetric{m})
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1)
	require.Equal(t, "voicectl_worker_connection_quality_score", mfs[0].GetName())
	pb := mfs[0].GetMetric()[0]
	h := pb.GetHistogram()
	require.EqualValues(t, 10, h.GetSampleCount())
	require.InDelta(t, 900, h.GetSampleSum(), 0)
	b := h.GetBucket()
	require.Len(t, b, len(ipc.QualityScoreBounds))
	require.EqualValues(t, 1, b[0].GetCumulativeCount())
	require.EqualValues(t, 1, b[len(b)-2].GetCumulativeCount())
	require.EqualValues(t, 4, b[len(b)-1].GetCumulativeCount(), "le 95")
	require.Equal(t, "worker", pb.GetLabel()[0].GetName())

	m, ok = constHistogram(dQualityLoss, ipc.QualityLossBounds, nil, 0, "0")
	require.True(t, ok, "a worker that measured nothing yet: an empty histogram")
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(oneMetric{m})
	mfs, err = reg.Gather()
	require.NoError(t, err)
	require.Zero(t, mfs[0].GetMetric()[0].GetHistogram().GetSampleCount())
	require.Len(t, mfs[0].GetMetric()[0].GetHistogram().GetBucket(), len(ipc.QualityLossBounds))
	_, ok = constHistogram(dQualityLoss, ipc.QualityLossBounds, []uint64{1}, 0, "0")
	require.False(t, ok, "buckets that do not match the bounds")
}

// oneMetric collects one constant metric.
type oneMetric struct{ m prometheus.Metric }

func (o oneMetric) Describe(ch chan<- *prometheus.Desc) { ch <- o.m.Desc() }
func (o oneMetric) Collect(ch chan<- prometheus.Metric) { ch <- o.m }
