package delivery

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/webhook"
)

// SenderParams configures a Sender.
type SenderParams struct {
	Logger *slog.Logger
	// Dir holds the on-disk queue (data_dir/webhooks).
	Dir string
	// QueueMax bounds it (webhooks.queue_max).
	QueueMax int
	Sink     Sink
	Metrics  *Metrics
	// RetryMin, RetryMax and MaxAge: see LanesParams.
	RetryMin, RetryMax, MaxAge time.Duration
	Now                        func() time.Time
}

// Sender is an Emitter that keeps each event on disk until its sink took
// it: emitted events and those a previous run left are delivered alike.
type Sender struct {
	log   *slog.Logger
	m     *Metrics
	box   *Outbox
	lanes *Lanes

	// mu makes the disk's order the lanes' order.
	mu sync.Mutex
}

var _ Emitter = (*Sender)(nil)

// StartSender opens the queue in p.Dir and starts delivering what it holds.
func StartSender(p SenderParams) (*Sender, error) {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Metrics == nil {
		p.Metrics = NewMetrics(nil)
	}
	box, recs, err := OpenOutbox(p.Dir, p.QueueMax)
	if err != nil {
		return nil, err
	}
	s := &Sender{log: p.Logger, m: p.Metrics, box: box, lanes: NewLanes(LanesParams{Logger: p.Logger, Sink: p.Sink,
		Metrics: p.Metrics, RetryMin: p.RetryMin, RetryMax: p.RetryMax, MaxAge: p.MaxAge, Now: p.Now})}
	if len(recs) > 0 {
		s.log.Info("webhook events left from the last run; sending them", "events", len(recs), "dir", p.Dir)
	}
	for _, r := range recs {
		var ev webhook.Event
		if err := json.Unmarshal(r.Body, &ev); err != nil || ev.ID == "" {
			s.m.failed.WithLabelValues(FailedMalformed).Inc()
			s.log.Error("unreadable webhook event in the queue; moved to failed/", "seq", r.Seq, "err", err)
			_ = box.Fail(r.Seq)
			continue
		}
		s.lanes.Add(&Item{Event: ev, Body: r.Body, done: s.doneFunc(r.Seq)})
	}
	return s, nil
}

// Emit implements Emitter: the event is on disk when it returns, or logged
// in full and counted when the queue could not take it.
func (s *Sender) Emit(ev webhook.Event) {
	it, err := NewItem(ev, nil)
	if err != nil {
		s.log.Error("webhook event cannot be encoded", "type", ev.Type, "room", ev.Room, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, err := s.box.Append(it.Body)
	if err != nil {
		reason := FailedDisk
		if errors.Is(err, ErrQueueFull) {
			reason = FailedQueueFull
		}
		s.m.failed.WithLabelValues(reason).Inc()
		s.log.Error("webhook event not queued; here it is in full", "err", err, "queued", s.box.Len(), "event", string(it.Body))
		return
	}
	it.done = s.doneFunc(seq)
	s.lanes.Add(it)
}

func (s *Sender) doneFunc(seq uint64) func(bool) {
	return func(delivered bool) {
		var err error
		if delivered {
			err = s.box.Remove(seq)
		} else {
			err = s.box.Fail(seq)
		}
		if err != nil {
			s.log.Warn("webhook queue file not cleared; it will be sent again at the next start", "seq", seq, "err", err)
		}
	}
}

// Queued counts the events on disk.
func (s *Sender) Queued() int { return s.box.Len() }

// Flush waits until every queued event went, or for at most d.
func (s *Sender) Flush(d time.Duration) {
	deadline := time.Now().Add(d)
	for s.box.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops delivering; what is not through stays on disk for the next start.
func (s *Sender) Close() { s.lanes.Close() }
