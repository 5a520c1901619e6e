package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voicectl/voicectl/server/wire"
)

// StormScenario is a join storm: rooms already running (a publisher and a few
// witness listeners each) take a burst of listeners joining as fast as the
// server admits them, while the witnesses time the gaps in what they hear.
type StormScenario struct {
	Scenario
	// Witnesses per room listen from before the storm; their longest gap
	// between two packets is how long a running room's audio stalled.
	Witnesses int `yaml:"witnesses"`
	// StormListeners join across the rooms, round-robin.
	StormListeners int `yaml:"storm_listeners"`
	// Concurrency is how many joins are in flight at once.
	Concurrency int `yaml:"concurrency"`
}

// DefaultStorm is 1,000 listeners joining 10 running rooms, 64 at a time.
func DefaultStorm() StormScenario {
	sc := DefaultScenario()
	sc.Rooms, sc.Publishers, sc.Listeners, sc.JoinRate = 10, 1, 0, 50
	sc.RoomPrefix = "storm"
	return StormScenario{Scenario: sc, Witnesses: 2, StormListeners: 1000, Concurrency: 64}
}

// Validate checks a storm.
func (s *StormScenario) Validate() error {
	var errs []error
	if s.Server == "" {
		errs = append(errs, errors.New("server is required"))
	}
	if len(s.Secret) < 16 {
		errs = append(errs, errors.New("secret (the server's auth.secret, at least 16 characters) is required to mint tokens"))
	}
	if s.Rooms < 1 || s.Witnesses < 1 || s.StormListeners < 1 {
		errs = append(errs, errors.New("need rooms, witnesses and storm listeners >= 1"))
	}
	if s.Concurrency < 1 {
		errs = append(errs, errors.New("concurrency must be >= 1"))
	}
	if s.JoinRate <= 0 {
		errs = append(errs, errors.New("join_rate (of the rooms' set-up) must be positive"))
	}
	return errors.Join(errs...)
}

// StormReport is what a join storm measured (JSON field names are stable).
type StormReport struct {
	Joined          int     `json:"joined"`
	Failed          int     `json:"failed"`
	JoinError       string  `json:"join_error,omitempty"`
	StormSeconds    float64 `json:"storm_seconds"`
	JoinsPerSecond  float64 `json:"joins_per_second"`
	JoinMsP50       float64 `json:"join_ms_p50"`
	JoinMsP99       float64 `json:"join_ms_p99"`
	JoinMsMax       float64 `json:"join_ms_max"`
	WorstGapMs      float64 `json:"worst_gap_ms"`       // longest a witness heard nothing, during the storm
	WitnessGapMsP50 float64 `json:"witness_gap_ms_p50"` // the median witness's longest gap
	// The generator's publishers share the machine with the storm's joins: a
	// gap can be theirs. WorstSendGapMs is the longest the publishers left
	// between two packets (from the send times the witnesses decrypt), and
	// WorstLatencyMs the longest a packet took from its publisher to a
	// witness: that part of a gap is the server's (or the network's).
	WorstSendGapMs float64 `json:"worst_send_gap_ms"`
	WorstLatencyMs float64 `json:"worst_latency_ms"`
	// The workers' own forwarding delay during the storm (arrival to last
	// copy written; needs the admin key): what the server itself held
	// packets back.
	ServerForwardDelayMsP99 float64 `json:"server_forward_delay_ms_p99"`
	ServerForwardDelayMsMax float64 `json:"server_forward_delay_ms_max"`
	Witnesses               int     `json:"witnesses"`
	// WitnessesSilent heard nothing at all during the storm.
	WitnessesSilent int `json:"witnesses_silent"`
}

// gapMeter keeps the longest time between two packets a listener received
// while it is armed. Only the listener's read goroutine calls observe.
type gapMeter struct {
	armed   atomic.Bool
	last    atomic.Int64
	longest atomic.Int64
	packets atomic.Uint64
	// From decrypted packets: their send times' longest gap, and the longest
	// send-to-arrival time.
	lastSent    atomic.Int64
	sendGap     atomic.Int64
	longestTrip atomic.Int64
}

// observeSent takes a decrypted packet's send time (its payload's first 8
// bytes) and kernel arrival time.
func (g *gapMeter) observeSent(sent int64, arrival time.Time) {
	if !g.armed.Load() {
		return
	}
	if last := g.lastSent.Swap(sent); last != 0 && sent-last > g.sendGap.Load() {
		g.sendGap.Store(sent - last)
	}
	if trip := arrival.UnixNano() - sent; trip > g.longestTrip.Load() {
		g.longestTrip.Store(trip)
	}
}

func (g *gapMeter) observe(arrival time.Time) {
	if !g.armed.Load() {
		return
	}
	now := arrival.UnixNano()
	if last := g.last.Swap(now); last != 0 && now-last > g.longest.Load() {
		g.longest.Store(now - last)
	}
	g.packets.Add(1)
}

// arm starts a measurement from now: a stall that began before the window
// counts from the window's start.
func (g *gapMeter) arm() {
	g.longest.Store(0)
	g.packets.Store(0)
	g.lastSent.Store(0)
	g.sendGap.Store(0)
	g.longestTrip.Store(0)
	g.last.Store(time.Now().UnixNano())
	g.armed.Store(true)
}

// disarm ends it; a stall still going on at the end counts up to now.
func (g *gapMeter) disarm() time.Duration {
	g.armed.Store(false)
	if open := time.Now().UnixNano() - g.last.Load(); open > g.longest.Load() {
		g.longest.Store(open)
	}
	return time.Duration(g.longest.Load())
}

// Storm sets up sc's rooms, waits until every witness hears its room, then joins
// the storm's listeners with sc.Concurrency in flight and reports.
func Storm(ctx context.Context, sc StormScenario, log *slog.Logger) (StormReport, error) {
	if err := sc.Validate(); err != nil {
		return StormReport{}, err
	}
	base := sc.Scenario
	base.Listeners = sc.Witnesses
	sampleEvery := base.LatencySampleEvery
	base.LatencySampleEvery = 1 // witnesses decrypt every packet: its send time shows the publisher's own gaps
	s, err := NewSession(base, log)
	if err != nil {
		return StormReport{}, err
	}
	defer s.Close()
	room := func(i int) string { return fmt.Sprintf("%s-%d", sc.RoomPrefix, i%sc.Rooms) }
	for i := 0; i < sc.Rooms; i++ {
		s.Join(ctx, room(i), 1, true)
	}
	for i := 0; i < sc.Rooms; i++ {
		s.Join(ctx, room(i), sc.Witnesses, false)
	}
	s.mu.Lock()
	witnesses := []*peer{}
	for _, p := range s.peers {
		if !p.publish {
			witnesses = append(witnesses, p)
		}
	}
	setupFailed := s.failed
	s.mu.Unlock()
	if setupFailed > 0 {
		return StormReport{}, fmt.Errorf("setting up the rooms: %d peers failed: %v", setupFailed, s.JoinError())
	}
	if err := waitHearing(ctx, witnesses, 20*time.Second); err != nil {
		return StormReport{}, err
	}
	for _, w := range witnesses {
		w.gaps.arm()
	}
	s.mu.Lock()
	s.joinMs = nil
	s.sc.LatencySampleEvery = max(sampleEvery, 1)
	s.mu.Unlock()

	srv0 := s.serverTotals(ctx)
	start := time.Now()
	sem := make(chan struct{}, sc.Concurrency)
	var wg sync.WaitGroup
	for i := 0; i < sc.StormListeners && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.joinOne(ctx, room(i), false)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	srv1 := s.serverTotals(ctx)

	r := StormReport{StormSeconds: wall.Seconds(), Witnesses: len(witnesses)}
	var gaps []float64
	for _, w := range witnesses {
		if w.gaps.packets.Load() == 0 {
			r.WitnessesSilent++
		}
		gaps = append(gaps, float64(w.gaps.disarm().Microseconds())/1000)
		r.WorstSendGapMs = max(r.WorstSendGapMs, float64(w.gaps.sendGap.Load())/1e6)
		r.WorstLatencyMs = max(r.WorstLatencyMs, float64(w.gaps.longestTrip.Load())/1e6)
	}
	gaps = sortedCopy(gaps)
	r.WorstGapMs, r.WitnessGapMsP50 = percentile(gaps, 100), percentile(gaps, 50)
	s.mu.Lock()
	joinMs := sortedCopy(s.joinMs)
	r.Failed = s.failed
	s.mu.Unlock()
	r.JoinError = errString(s.JoinError())
	r.Joined = len(joinMs)
	r.JoinsPerSecond = float64(r.Joined) / wall.Seconds()
	r.JoinMsP50, r.JoinMsP99, r.JoinMsMax = percentile(joinMs, 50), percentile(joinMs, 99), percentile(joinMs, 100)
	if window, ok := windowBuckets(srv0.delays, srv1.delays); ok {
		r.ServerForwardDelayMsP99 = wire.ForwardDelayQuantileMs(window, 0.99)
		r.ServerForwardDelayMsMax = wire.ForwardDelayQuantileMs(window, 1)
	}
	return r, ctx.Err()
}

// waitHearing waits until every listener has received packets.
func waitHearing(ctx context.Context, listeners []*peer, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		deaf := 0
		for _, l := range listeners {
			if l.total.Load() == 0 {
				deaf++
			}
		}
		if deaf == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d witnesses heard nothing within %s", deaf, len(listeners), limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
