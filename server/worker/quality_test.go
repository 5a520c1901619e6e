package worker

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
)

func TestQualityModel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    qualityInput
		score int
		level qualityLevel
	}{
		{name: "clean LAN call", in: qualityInput{jitterMs: 1, rttMs: 2}, score: 97, level: qualityExcellent},
		{name: "nothing at all", in: qualityInput{}, score: 97, level: qualityExcellent},
		{name: "2 % loss, 20 ms jitter, 80 ms RTT", in: qualityInput{loss: 0.02, jitterMs: 20, rttMs: 80}, score: 92, level: qualityExcellent},
		{name: "5 % loss", in: qualityInput{loss: 0.05}, score: 87, level: qualityGood},
		{name: "7 % loss", in: qualityInput{loss: 0.07}, score: 81, level: qualityGood},
		{name: "8 % loss", in: qualityInput{loss: 0.08}, score: 78, level: qualityPoor},
		{name: "10 % loss", in: qualityInput{loss: 0.10}, score: 71, level: qualityPoor},
		{name: "20 % loss", in: qualityInput{loss: 0.20}, score: 35, level: qualityPoor},
		{name: "all lost", in: qualityInput{loss: 1}, score: 0, level: qualityPoor},
		{name: "300 ms RTT", in: qualityInput{rttMs: 300, jitterMs: 5}, score: 94, level: qualityExcellent},
		{name: "satellite: 600 ms RTT", in: qualityInput{rttMs: 600, jitterMs: 5}, score: 78, level: qualityPoor},
		{name: "1 s RTT, 100 ms jitter", in: qualityInput{rttMs: 1000, jitterMs: 100}, score: 23, level: qualityPoor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			score, level := qualityOf(tc.in)
			require.Equal(t, tc.score, score)
			require.Equal(t, tc.level, level)
		})
	}
}

func TestQualityModelIsMonotonic(t *testing.T) {
	prev := 101
	for loss := 0.0; loss <= 1; loss += 0.01 {
		s, _ := qualityOf(qualityInput{loss: loss})
		require.LessOrEqual(t, s, prev, "loss %.2f", loss)
		prev = s
	}
	prev = 101
	for d := 0.0; d < 3000; d += 10 {
		s, _ := qualityOf(qualityInput{rttMs: d})
		require.LessOrEqual(t, s, prev, "rtt %.0f", d)
		prev = s
	}
}

// listenerReports feeds q the receiver reports of a listener that lost
// lossEvery-th packet (0: none) of 50 a second, for d from *seq on.
func listenerReports(q *transportQuality, now time.Time, seq, lost *uint32, d time.Duration, lossEvery uint32) time.Time {
	for end := now.Add(d); now.Before(end); now = now.Add(time.Second) {
		for range 50 {
			*seq++
			if lossEvery > 0 && *seq%lossEvery == 0 {
				*lost++
			}
		}
		q.takeReport(rtcp.ReceptionReport{SSRC: 7, LastSequenceNumber: *seq, TotalLost: *lost, Jitter: 96}, now)
	}
	return now
}

func TestQualitySamplesFollowLossAndRecovery(t *testing.T) {
	var q transportQuality
	var seq, lost uint32
	now := time.Unix(1_800_000_000, 0)
	sample := func() ipc.TransportQuality {
		out, _, _ := q.sample("TR_1", publisherSample{}, 0, true, now)
		return out
	}

	now = listenerReports(&q, now, &seq, &lost, qualityInterval, 0)
	first := sample()
	require.Equal(t, ipc.QualityExcellent, first.Level, "a clean call")
	require.Zero(t, first.Loss)
	require.InDelta(t, 2.0, first.JitterMs, 0.01, "96 units at 48 kHz")

	now = listenerReports(&q, now, &seq, &lost, qualityInterval, 10)
	lossy := sample()
	require.Equal(t, ipc.QualityPoor, lossy.Level, "10 % loss: %+v", lossy)
	require.InDelta(t, 0.1, lossy.Loss, 0.01)

	now = listenerReports(&q, now, &seq, &lost, qualityInterval, 0)
	require.Equal(t, ipc.QualityExcellent, sample().Level, "recovered one interval after the loss ended")

	// The publisher's own stream lost 10 %: its worst counts.
	_, _, _ = q.sample("TR_1", publisherSample{}, 0, true, now)
	out, _, scored := q.sample("TR_1", publisherSample{received: 90, loss: 0.1, jitterMs: 3}, 0, true, now)
	require.True(t, scored)
	require.Equal(t, ipc.QualityPoor, out.Level)

	// Nothing for qualityLostAfter: lost.
	now = now.Add(qualityLostAfter)
	out, due, scored := q.sample("TR_1", publisherSample{}, 0, true, now)
	require.Equal(t, ipc.QualityLost, out.Level)
	require.True(t, due, "a new level is reported at once")
	require.False(t, scored, "lost is no score for the histograms")
}

func TestQualityReportsOnlyWhatChanged(t *testing.T) {
	var q transportQuality
	var seq, lost uint32
	now := time.Unix(1_800_000_000, 0)
	now = listenerReports(&q, now, &seq, &lost, qualityInterval, 0)
	_, due, _ := q.sample("TR_1", publisherSample{}, 0, true, now)
	require.True(t, due, "the first sample")
	now = listenerReports(&q, now, &seq, &lost, qualityInterval, 0)
	_, due, _ = q.sample("TR_1", publisherSample{}, 0, true, now)
	require.False(t, due, "same level and score, before the heartbeat")
	var sent int
	for range 5 {
		now = listenerReports(&q, now, &seq, &lost, qualityInterval, 0)
		if _, due, _ := q.sample("TR_1", publisherSample{}, 0, true, now); due {
			sent++
		}
	}
	require.Equal(t, 1, sent, "one heartbeat in 10 s")
}

func TestQualityWaitsForItsFirstFigures(t *testing.T) {
	var q transportQuality
	now := time.Unix(1_800_000_000, 0)
	_, due, _ := q.sample("TR_1", publisherSample{}, 0, true, now)
	require.False(t, due, "nothing measured, nothing said")
	_, due, _ = q.sample("TR_1", publisherSample{}, 0, false, now.Add(time.Minute))
	require.False(t, due, "a peer with nothing to send or hear is never lost")
	_, due, _ = q.sample("TR_1", publisherSample{}, 0, true, now.Add(time.Minute))
	require.True(t, due, "one that should have sent or heard something is")
}

func TestRoundTripFromReceiverReports(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	sentAt := now.Add(-130 * time.Millisecond)
	lsr := uint32(ntpTime(sentAt) >> 16)
	held := uint32(50 * 65536 / 1000) // 50 ms
	rtt, ok := roundTrip(rtcp.ReceptionReport{LastSenderReport: lsr, Delay: held}, now)
	require.True(t, ok)
	require.InDelta(t, 80, rtt, 0.1)
	_, ok = roundTrip(rtcp.ReceptionReport{}, now)
	require.False(t, ok, "no sender report echoed")
	_, ok = roundTrip(rtcp.ReceptionReport{LastSenderReport: lsr + 65536}, now)
	require.False(t, ok, "an LSR from the future")
}

func TestPublisherQualitySample(t *testing.T) {
	s := newReceiveStats()
	at := time.Unix(1_800_000_000, 0).UnixNano()
	for seq := uint16(0); seq < 100; seq++ {
		if seq%10 == 5 {
			continue
		}
		s.packet(1, seq, uint32(seq)*960, at+int64(seq)*int64(20*time.Millisecond))
	}
	got := s.qualitySample()
	require.EqualValues(t, 90, got.received)
	require.InDelta(t, 0.1, got.loss, 0.001)
	got = s.qualitySample()
	require.Zero(t, got.received, "nothing since")
	require.Zero(t, got.loss)
}

func TestQualityOfAListenerThatReceivesNothing(t *testing.T) {
	var q transportQuality
	var seq, lost uint32
	now := time.Unix(1_800_000_000, 0)
	var forwarded uint64
	step := func(receives bool) ipc.TransportQuality {
		if receives {
			now = listenerReports(&q, now, &seq, &lost, qualityInterval, 0)
		} else {
			// Its reports come, but say nothing new: it heard nothing.
			for range 2 {
				q.takeReport(rtcp.ReceptionReport{SSRC: 7, LastSequenceNumber: seq, TotalLost: lost}, now)
				now = now.Add(time.Second)
			}
		}
		forwarded += 100
		out, _, _ := q.sample("TR_1", publisherSample{}, forwarded, true, now)
		return out
	}
	require.Equal(t, ipc.QualityExcellent, step(true).Level)
	require.Equal(t, ipc.QualityExcellent, step(true).Level)
	got := step(false)
	require.Equal(t, ipc.QualityPoor, got.Level, "the worker kept sending, the listener's reports stood still")
	require.InDelta(t, 1, got.Loss, 0)

	// A paused producer: nothing sent, nothing received, the last loss stands.
	q = transportQuality{}
	forwarded = 0
	require.Equal(t, ipc.QualityExcellent, step(true).Level)
	for range 3 {
		q.takeReport(rtcp.ReceptionReport{SSRC: 7, LastSequenceNumber: seq, TotalLost: lost}, now)
		now = now.Add(qualityInterval)
		out, _, _ := q.sample("TR_1", publisherSample{}, forwarded, true, now)
		require.Equal(t, ipc.QualityExcellent, out.Level, "nothing forwarded: silence is no loss")
	}
}
