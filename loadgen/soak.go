package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

// SoakScenario is a long run against one server (make soak): every room keeps
// its publishers and listeners, each peer stays a random lifetime and is then
// replaced by a new one (churn), a worker is SIGKILLed every KillEvery, and the
// server's and workers' processes are sampled every SampleEvery. The soak fails
// when a figure grows after the warm-up or an admitted listener loses audio.
type SoakScenario struct {
	Scenario `yaml:",inline"`
	// Length is how long the soak runs.
	Length time.Duration `yaml:"length"`
	// LifeMin and LifeMax bound each peer's stay.
	LifeMin time.Duration `yaml:"life_min"`
	LifeMax time.Duration `yaml:"life_max"`
	// KillEvery SIGKILLs one worker (round robin) this often; 0 never.
	KillEvery   time.Duration `yaml:"kill_every"`
	SampleEvery time.Duration `yaml:"sample_every"`
	// MaxGrowth bounds each figure's peak in the soak's last quarter against
	// its peak in the first quarter after the warm-up: at most this fraction
	// more (plus a small absolute slack per figure, soakFigures).
	MaxGrowth float64 `yaml:"max_growth"`
	// MinSpan is the fewest packets a listener's admission must have been
	// sent for its loss to be judged (shorter ones still add to the total).
	MinSpan uint64 `yaml:"min_span"`
	// MaxJoinFailures is the share of joins that may fail (during a worker's
	// restart a join can meet no_capacity).
	MaxJoinFailures float64 `yaml:"max_join_failures"`
}

// DefaultSoak is an hour over 4 rooms of 2 publishers and 6 listeners each,
// peers staying 1 to 6 minutes, a worker killed every 10 minutes.
func DefaultSoak() SoakScenario {
	sc := DefaultScenario()
	sc.Rooms, sc.Publishers, sc.Listeners, sc.JoinRate = 4, 2, 6, 10
	sc.RoomPrefix, sc.Warmup, sc.MaxLoss = "soak", 5*time.Minute, 0.005
	return SoakScenario{Scenario: sc, Length: time.Hour, LifeMin: time.Minute, LifeMax: 6 * time.Minute,
		KillEvery: 10 * time.Minute, SampleEvery: 10 * time.Second, MaxGrowth: 0.25, MinSpan: 500, MaxJoinFailures: 0.02}
}

// Validate checks a soak.
func (s *SoakScenario) Validate() error {
	var errs []error
	if s.Server == "" || len(s.Secret) < 16 {
		errs = append(errs, errors.New("server and secret (the server's auth.secret, at least 16 characters) are required"))
	}
	if s.AdminKey == "" {
		errs = append(errs, errors.New("admin_key is required: the soak samples the server and kills workers through the admin API"))
	}
	if s.Rooms < 1 || s.Publishers < 1 || s.Listeners < 1 {
		errs = append(errs, errors.New("need rooms, publishers and listeners >= 1"))
	}
	if s.JoinRate <= 0 {
		errs = append(errs, errors.New("join_rate must be positive"))
	}
	if s.Length < 30*time.Second {
		errs = append(errs, errors.New("length must be at least 30s"))
	}
	if s.Warmup < 0 || s.Warmup >= s.Length/2 {
		errs = append(errs, errors.New("warmup must be below half the length"))
	}
	if s.LifeMin <= 0 || s.LifeMax < s.LifeMin || s.LifeMax > 20*time.Minute {
		errs = append(errs, errors.New("need 0 < life_min <= life_max <= 20m"))
	}
	if s.KillEvery < 0 || s.SampleEvery < time.Second {
		errs = append(errs, errors.New("need kill_every >= 0 and sample_every >= 1s"))
	}
	if s.MaxGrowth <= 0 || s.MaxLoss <= 0 || s.MaxJoinFailures < 0 {
		errs = append(errs, errors.New("max_growth and max_loss must be positive, max_join_failures not negative"))
	}
	return errors.Join(errs...)
}

// SoakReport is what a soak measured (JSON field names are stable).
type SoakReport struct {
	Seconds  float64 `json:"seconds"`
	Joins    int     `json:"joins"`
	Failures int     `json:"join_failures"`
	JoinErr  string  `json:"join_error,omitempty"` // the first failure's reason
	Rejoins  int     `json:"rejoins"`              // clients after a reconnect or a lost connection
	// JoinsCutByKill are joins whose worker was SIGKILLed before their
	// media connected: tried again at once, as a rejoin, not failures.
	JoinsCutByKill int `json:"joins_cut_by_kill"`
	// RejoinMs* is from a peer's reconnect instruction (or lost
	// connection) to its new client's media.
	RejoinMsP50 float64 `json:"rejoin_ms_p50"`
	RejoinMsMax float64 `json:"rejoin_ms_max"`
	// Listener admissions, each judged on the packets inside its span.
	ListenerAdmissions int     `json:"listener_admissions"`
	PacketsExpected    uint64  `json:"packets_expected"`
	PacketsReceived    uint64  `json:"packets_received"`
	LossRatio          float64 `json:"loss_ratio"`
	WorstListenerLoss  float64 `json:"worst_listener_loss_ratio"`
	// SequenceJumps counts streams that restarted their numbering (not loss).
	SequenceJumps int `json:"sequence_jumps"`
	// Kills are the workers SIGKILLed; RestartMsMax the longest until the
	// supervisor had the slot ready again.
	Kills        []SoakKill   `json:"kills"`
	RestartMsMax float64      `json:"restart_ms_max"`
	Checks       []SoakCheck  `json:"checks"`
	Samples      []SoakSample `json:"-"` // written as CSV and plotted
	Failed       []string     `json:"failed,omitempty"`
}

// SoakKill is one worker SIGKILLed.
type SoakKill struct {
	AtSeconds float64 `json:"at_seconds"`
	Worker    int     `json:"worker"`
	PID       int     `json:"pid"`
	RestartMs float64 `json:"restart_ms"`
}

// Killer sends SIGKILL to a process of this machine.
type Killer func(pid int) error

type soak struct {
	sc    SoakScenario
	log   *slog.Logger
	admin *admin.Client
	start time.Time

	counter atomic.Int64
	peers   atomic.Int64 // clients connected now

	mu       sync.Mutex
	rep      SoakReport
	rejoinMs []float64
	kills    []killSpan
}

// killSpan is from a worker's SIGKILL until the supervisor had its slot
// ready again (zero until then).
type killSpan struct{ from, to time.Time }

// Soak runs sc until its length has passed or ctx ends, killing workers with
// kill, and reports; the report's Failed lists every check that failed.
func Soak(ctx context.Context, sc SoakScenario, kill Killer, log *slog.Logger) (SoakReport, error) {
	if err := sc.Validate(); err != nil {
		return SoakReport{}, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a, err := admin.New(sc.Server, sc.AdminKey)
	if err != nil {
		return SoakReport{}, err
	}
	k := &soak{sc: sc, log: log, admin: a, start: time.Now()}
	if _, err := a.Process(ctx); err != nil {
		return SoakReport{}, fmt.Errorf("admin API: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, sc.Length)
	defer cancel()
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / sc.JoinRate)
	for _, publish := range []bool{true, false} {
		n := map[bool]int{true: sc.Publishers, false: sc.Listeners}[publish]
		for r := 0; r < sc.Rooms; r++ {
			room := fmt.Sprintf("%s-%d", sc.RoomPrefix, r)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k.slot(ctx, room, publish)
				}()
				if !sleepCtx(ctx, interval) {
					break
				}
			}
		}
	}
	samples := make(chan []SoakSample, 1)
	go func() { samples <- k.sample(ctx) }()
	if sc.KillEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.killLoop(ctx, kill)
		}()
	}
	<-ctx.Done()
	wg.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.rep
	r.Seconds = time.Since(k.start).Seconds()
	r.Samples = <-samples
	if r.PacketsExpected > 0 {
		r.LossRatio = 1 - float64(r.PacketsReceived)/float64(r.PacketsExpected)
	}
	all := sortedCopy(k.rejoinMs)
	r.RejoinMsP50 = percentile(all, 50)
	if len(all) > 0 {
		r.RejoinMsMax = all[len(all)-1]
	}
	for _, kill := range r.Kills {
		r.RestartMsMax = max(r.RestartMsMax, kill.RestartMs)
	}
	r.Checks = growthChecks(r.Samples, sc)
	r.Failed = sc.verdict(r)
	return r, nil
}

// verdict lists what failed.
func (sc SoakScenario) verdict(r SoakReport) []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, fmt.Sprintf("%s grew from %.0f to %.0f (bound %.0f)", c.Figure, c.Baseline, c.Final, c.Bound))
		}
	}
	if r.WorstListenerLoss > sc.MaxLoss {
		out = append(out, fmt.Sprintf("a listener lost %.3f%% (bound %.3f%%)", 100*r.WorstListenerLoss, 100*sc.MaxLoss))
	}
	if r.ListenerAdmissions == 0 {
		out = append(out, "no listener was admitted")
	}
	if r.Joins > 0 && float64(r.Failures)/float64(r.Joins+r.Failures) > sc.MaxJoinFailures {
		out = append(out, fmt.Sprintf("%d of %d joins failed (first: %s)", r.Failures, r.Joins+r.Failures, r.JoinErr))
	}
	if len(r.Samples) < 4 {
		out = append(out, "too few samples to judge growth")
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// slot keeps one peer in room until ctx ends: a peer with a random lifetime,
// then the next one.
func (k *soak) slot(ctx context.Context, room string, publish bool) {
	for ctx.Err() == nil {
		life := k.sc.LifeMin + rand.N(k.sc.LifeMax-k.sc.LifeMin+1)
		k.live(ctx, room, publish, time.Now().Add(life))
	}
}

// live is one peer: a client until the peer's end, a new one (a rejoin)
// whenever the server tells it to reconnect or its connection is lost.
func (k *soak) live(ctx context.Context, room string, publish bool, end time.Time) {
	role := map[bool]string{true: "pub", false: "sub"}[publish]
	id := fmt.Sprintf("soak-%d-%s", k.counter.Add(1), role)
	var lostAt time.Time // when the last client went, for a rejoin
	wait := rejoinFirst
	for ctx.Err() == nil && time.Now().Before(end) {
		acc := newAdmission()
		tried := time.Now()
		c, err := k.connect(ctx, room, id, publish, acc)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if k.cutByKill(tried, time.Now(), err) {
				lostAt = tried
				continue
			}
			k.failed(err)
			if !sleepCtx(ctx, wait) {
				return
			}
			wait = min(2*wait, rejoinMax)
			continue
		}
		wait = rejoinFirst
		k.joined(lostAt)
		k.peers.Add(1)
		gone := k.hold(ctx, c, end)
		c.Close()
		k.peers.Add(-1)
		if !publish {
			k.account(id, acc)
		}
		lostAt = gone
	}
}

// hold waits until the peer's end (zero time back) or until its client is
// told to reconnect or loses its connection (the time it happened).
func (k *soak) hold(ctx context.Context, c *client.Client, end time.Time) time.Time {
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-t.C:
			return time.Time{}
		case ev, ok := <-c.Events():
			if !ok {
				return time.Now()
			}
			if m, ok := ev.(*wire.Reconnect); ok {
				now := time.Now()
				sleepCtx(ctx, time.Duration(m.DelayMS)*time.Millisecond)
				return now
			}
		}
	}
}

func (k *soak) connect(ctx context.Context, room, id string, publish bool, acc *admission) (*client.Client, error) {
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tok, err := mintToken(k.sc.Secret, room, id, publish, 2*time.Hour)
	if err != nil {
		return nil, err
	}
	cfg := k.sc.peerConfig(publish, func(ssrc uint32, seq uint16, _ uint32, _ int, _ time.Time) bool {
		acc.add(ssrc, seq)
		return false
	})
	cfg.URL, cfg.Token = k.sc.Server, tok
	c, err := client.Connect(jctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	if err := awaitMedia(jctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

func (k *soak) joined(lostAt time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rep.Joins++
	if !lostAt.IsZero() {
		k.rep.Rejoins++
		k.rejoinMs = append(k.rejoinMs, float64(time.Since(lostAt).Microseconds())/1000)
	}
}

// cutByKill reports (and counts) a join that failed while a worker was
// being killed or restarted: the join met the kill, as a peer's media did.
func (k *soak) cutByKill(from, to time.Time, err error) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range k.kills {
		if !s.from.After(to) && (s.to.IsZero() || !s.to.Before(from)) {
			k.rep.JoinsCutByKill++
			k.log.Info("soak join cut by a worker kill; joining again", "err", err)
			return true
		}
	}
	return false
}

func (k *soak) failed(err error) {
	k.log.Warn("soak join failed", "err", err)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rep.Failures++
	if k.rep.JoinErr == "" {
		k.rep.JoinErr = err.Error()
	}
}

// account adds one listener admission's packets.
func (k *soak) account(id string, acc *admission) {
	exp, got, _, jumps := acc.totals()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rep.ListenerAdmissions++
	k.rep.PacketsExpected += exp
	k.rep.PacketsReceived += got
	k.rep.SequenceJumps += jumps
	if exp >= k.sc.MinSpan {
		loss := 1 - float64(got)/float64(exp)
		k.rep.WorstListenerLoss = max(k.rep.WorstListenerLoss, loss)
		if loss > k.sc.MaxLoss {
			k.log.Warn("listener lost audio", "peer", id, "expected", exp, "received", got)
		}
	}
}

// killLoop SIGKILLs the workers in turn, each time waiting for the
// supervisor to have the slot ready again.
func (k *soak) killLoop(ctx context.Context, kill Killer) {
	for next := 0; sleepCtx(ctx, k.sc.KillEvery); next++ {
		ws, err := k.admin.Workers(ctx)
		if err != nil || len(ws) == 0 {
			k.log.Warn("soak: cannot list workers", "err", err)
			continue
		}
		w := ws[next%len(ws)]
		if !w.Ready || w.PID <= 0 {
			continue
		}
		at := time.Now()
		k.mu.Lock()
		k.kills = append(k.kills, killSpan{from: at})
		span := len(k.kills) - 1
		k.mu.Unlock()
		if err := kill(w.PID); err != nil {
			k.log.Warn("soak: kill", "pid", w.PID, "err", err)
			k.mu.Lock()
			k.kills = k.kills[:span] // nothing was cut
			k.mu.Unlock()
			continue
		}
		k.log.Info("soak: worker killed", "worker", w.Index, "pid", w.PID)
		restart := k.waitRestarted(ctx, w.Index, w.PID)
		k.mu.Lock()
		k.kills[span].to = time.Now()
		k.rep.Kills = append(k.rep.Kills, SoakKill{AtSeconds: at.Sub(k.start).Seconds(), Worker: w.Index, PID: w.PID,
			RestartMs: float64(restart.Microseconds()) / 1000})
		k.mu.Unlock()
	}
}

// waitRestarted is how long until worker index runs again under a new pid.
func (k *soak) waitRestarted(ctx context.Context, index, oldPID int) time.Duration {
	start := time.Now()
	for sleepCtx(ctx, 50*time.Millisecond) {
		ws, err := k.admin.Workers(ctx)
		if err == nil && index < len(ws) && ws[index].Ready && ws[index].PID != oldPID {
			break
		}
	}
	return time.Since(start)
}
