package worker

import (
	"math"
	"sync"
	"time"

	"github.com/pion/rtcp"

	"github.com/voicectl/voicectl/server/ipc"
)

// qualityInterval is how often the worker scores every transport's
// connection (quality.go): one job in the worker's rounds for all of them,
// no timer per peer.
const qualityInterval = 2 * time.Second

// qualityLostAfter is how long nothing may arrive from a peer — no RTP from
// its publisher, no RTCP from it as a listener — before its level is lost.
// It is longer than the interval: a listen-only browser sends nothing but
// receiver reports, which libwebrtc spaces 2.5 to 7.5 s apart for audio.
// A listener's last report counts for as long.
const qualityLostAfter = 8 * time.Second

// qualityHeartbeat is how often a transport whose level and score stay put
// is reported all the same (the admin API shows its loss and jitter);
// qualityScoreStep is how far its score must move to be reported sooner.
const (
	qualityHeartbeat = 10 * time.Second
	qualityScoreStep = 5
)

// transportQuality follows one transport's connection for its quality
// score: what its listener reports (takeReport) between two samples, and
// what was last reported to control.
type transportQuality struct {
	mu sync.Mutex
	// marks are each consumer's last receiver report block, by SSRC: the
	// next one's cumulative loss and highest sequence number less these
	// are what was lost and expected in between (RFC 3550 §6.4.1).
	marks map[uint32]rrMark
	// Since the last sample.
	expected, lost int64
	jitterMs       float64 // the worst
	reports        int
	// The listener's view at its last sample with reports in it.
	listener   qualityInput
	listenerAt time.Time
	rttMs      float64 // the latest, 0 when unknown
	heardAt    time.Time
	// What control was last told.
	sent   ipc.TransportQuality
	sentAt time.Time
	// forwarded is the packets the worker had sent the peer's consumers at
	// the last sample; kept whether it sent steadily in that interval.
	forwarded uint64
	kept      bool
}

// qualitySteadyPackets is how many packets an interval must forward to a
// listener for it to count as sending steadily (2 s of Opus is 100).
const qualitySteadyPackets = 20

type rrMark struct {
	ext  uint32 // extended highest sequence number received
	lost uint32 // cumulative number of packets lost
}

// maxMarks bounds the marks a transport keeps: one per consumer, and a
// listener may report on SSRCs it made up.
const maxMarks = 256

// takeReport adds one receiver report block of t's listener, received at now.
func (q *transportQuality) takeReport(r rtcp.ReceptionReport, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reports++
	q.heardAt = now
	q.jitterMs = max(q.jitterMs, float64(r.Jitter)*1000/float64(OpusCodec.ClockRate))
	if rtt, ok := roundTrip(r, now); ok {
		q.rttMs = rtt
	}
	if q.marks == nil {
		q.marks = map[uint32]rrMark{}
	}
	m, seen := q.marks[r.SSRC]
	if !seen && len(q.marks) >= maxMarks {
		return
	}
	q.marks[r.SSRC] = rrMark{ext: r.LastSequenceNumber, lost: r.TotalLost}
	if !seen || r.LastSequenceNumber-m.ext >= 1<<31 {
		return // a first report, or one older than the last
	}
	exp := int64(r.LastSequenceNumber - m.ext)
	lost := int64(r.TotalLost&0xffffff) - int64(m.lost&0xffffff)
	q.expected += exp
	q.lost += min(max(lost, 0), exp)
}

// roundTrip is the round-trip time a report block tells (RFC 3550 §6.4.1):
// now less the sender report it echoes (LSR) less the time the listener
// held it (DLSR), all in 1/65536 s; false when it echoes none.
func roundTrip(r rtcp.ReceptionReport, now time.Time) (float64, bool) {
	if r.LastSenderReport == 0 {
		return 0, false
	}
	mid := uint32(ntpTime(now) >> 16)
	d := mid - r.LastSenderReport - r.Delay
	if d >= 1<<31 {
		return 0, false // a clock step, or a forged LSR
	}
	return float64(d) * 1000 / 65536, true
}

// sample scores the interval that ends at now from the listener's reports
// and pub, what t's own producer received in it (zero when it has none). It
// says what to report to control, if anything, and whether it is a score
// (for the histograms) rather than nothing or lost.
//
// forwarded is the packets the worker sent t's consumers so far: a
// listener whose reports show nothing new while the worker kept sending, in
// this interval and the one before, receives nothing (loss 1), though its
// own reports still arrive.
func (q *transportQuality) sample(id string, pub publisherSample, forwarded uint64, expectsMedia bool, now time.Time) (ipc.TransportQuality, bool, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var sent uint64
	if forwarded > q.forwarded {
		sent = forwarded - q.forwarded
	}
	steady := sent >= qualitySteadyPackets && q.kept
	q.forwarded, q.kept = forwarded, sent >= qualitySteadyPackets
	if q.reports > 0 {
		var loss float64
		switch {
		case q.expected > 0:
			loss = float64(q.lost) / float64(q.expected)
		case steady:
			loss = 1
		default:
			loss = q.listener.loss // reports with nothing new: the last loss stands
		}
		q.listener = qualityInput{loss: loss, jitterMs: q.jitterMs, rttMs: q.rttMs}
		q.listenerAt = now
	}
	q.expected, q.lost, q.jitterMs, q.reports = 0, 0, 0, 0
	if q.heardAt.IsZero() {
		q.heardAt = now // lost counts from the first sample
	}

	in, measured := qualityInput{rttMs: q.rttMs}, false
	if !q.listenerAt.IsZero() && now.Sub(q.listenerAt) < qualityLostAfter {
		in, measured = q.listener, true
	}
	if pub.received > 0 {
		q.heardAt = now
		in.loss = max(in.loss, pub.loss)
		in.jitterMs = max(in.jitterMs, pub.jitterMs)
		measured = true
	}
	var out ipc.TransportQuality
	switch {
	case measured:
		score, level := qualityOf(in)
		out = ipc.TransportQuality{TransportID: id, Score: score, Level: string(level),
			Loss: round3(in.loss), JitterMs: round1(in.jitterMs), RTTMs: round1(in.rttMs)}
	case expectsMedia && !q.heardAt.IsZero() && now.Sub(q.heardAt) >= qualityLostAfter:
		out = ipc.TransportQuality{TransportID: id, Level: ipc.QualityLost}
	default:
		return ipc.TransportQuality{}, false, false // nothing to tell yet
	}
	due := out.Level != q.sent.Level || absInt(out.Score-q.sent.Score) >= qualityScoreStep ||
		now.Sub(q.sentAt) >= qualityHeartbeat-qualityInterval/2
	if due {
		q.sent, q.sentAt = out, now
	}
	return out, due, measured
}

// publisherSample is what a transport's own producer received in an interval.
type publisherSample struct {
	received uint32
	loss     float64
	jitterMs float64
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// qualityHistograms count the scores and losses the worker measured, for
// ipc.Load (control exports them as histograms per worker).
type qualityHistograms struct {
	mu                sync.Mutex
	scores, losses    []uint64
	scoreSum, lossSum float64
}

func (h *qualityHistograms) observe(q ipc.TransportQuality) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.scores == nil {
		h.scores = make([]uint64, len(ipc.QualityScoreBounds)+1)
		h.losses = make([]uint64, len(ipc.QualityLossBounds)+1)
	}
	h.scores[boundOf(ipc.QualityScoreBounds, float64(q.Score))]++
	h.losses[boundOf(ipc.QualityLossBounds, q.Loss)]++
	h.scoreSum += float64(q.Score)
	h.lossSum += q.Loss
}

// fill copies the histograms into l.
func (h *qualityHistograms) fill(l *ipc.Load) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.scores == nil {
		return
	}
	l.QualityScoreBuckets = append([]uint64(nil), h.scores...)
	l.QualityLossBuckets = append([]uint64(nil), h.losses...)
	l.QualityScoreSum, l.QualityLossSum = h.scoreSum, h.lossSum
}

// boundOf is the first bucket whose upper bound holds v.
func boundOf(bounds []float64, v float64) int {
	for i, b := range bounds {
		if v <= b {
			return i
		}
	}
	return len(bounds)
}

// scheduleQuality starts the worker's quality rounds.
func (w *Worker) scheduleQuality(r *rounds) {
	var job *roundJob
	job = r.job(func() {
		w.sampleQuality(time.Now())
		job.Reset(qualityInterval)
	})
	w.qualityJob.Store(job)
	job.Reset(qualityInterval)
}

// sampleQuality scores every transport's last interval and reports those
// that are due (transportQuality.sample).
func (w *Worker) sampleQuality(now time.Time) {
	w.mu.Lock()
	ts := make([]*transport, 0, len(w.transports))
	for _, t := range w.transports {
		ts = append(ts, t)
	}
	w.mu.Unlock()
	for _, t := range ts {
		q, due, scored := t.sampleQuality(now)
		if scored {
			w.qualityHist.observe(q)
		}
		if due {
			w.notify(ipc.EventQuality, q)
		}
	}
}

// sampleQuality is t's part of the worker's quality round.
func (t *transport) sampleQuality(now time.Time) (ipc.TransportQuality, bool, bool) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ipc.TransportQuality{}, false, false
	}
	p := t.producer
	expects := t.route.Load() != nil && (p != nil || len(t.consumers) > 0)
	var forwarded uint64
	for _, c := range t.consumers {
		forwarded += uint64(c.sentPackets.Load())
	}
	t.mu.Unlock()
	var pub publisherSample
	if p != nil && p.stats != nil {
		pub = p.stats.qualitySample()
	}
	return t.quality.sample(t.id, pub, forwarded, expects, now)
}
