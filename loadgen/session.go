package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

// Session holds the synthetic peers of a run.
type Session struct {
	sc    Scenario
	log   *slog.Logger
	admin *admin.Client
	// admins are every server's, in a run through the API.
	admins []*admin.Client

	mu      sync.Mutex
	peers   []*peer
	closing chan struct{}
	follows sync.WaitGroup
	failed  int
	joinErr error
	joinMs  []float64
	counter atomic.Int64
}

// peer is one synthetic client and what it received. Its client changes
// when it follows a move or rejoins after a reconnect (follow.go).
type peer struct {
	room     string
	identity string
	publish  bool
	cfg      client.Config // the first client's; a rejoin changes URL and Token

	cmu sync.Mutex
	c   *client.Client
	// sentBefore is what the peer's earlier clients sent; rejoins counts
	// the clients after the first.
	sentBefore uint64
	rejoins    atomic.Int32
	// joinSeq is the next sequence number of the current client when it
	// took over, marks where the publishers of the room were then
	// (rejoinspan.go); both under cmu.
	joinSeq uint16
	marks   map[*peer]spanMark

	mu      sync.Mutex
	streams map[uint32]*stream
	latency []float64 // ms, of sampled packets sent inside the window
	window  atomic.Pointer[[2]int64]
	total   atomic.Uint64
	gaps    gapMeter
	// rxBytes is the RTP the peer received, in bytes; sentDropped the
	// sequence numbers of its own stream its impaired socket dropped
	// (impairaccount.go).
	rxBytes     atomic.Uint64
	sentDropped seqBits // under mu
	// retrans counts the packets that came again after a first copy
	// arrived or was dropped (NACKs answered), retransBytes their bytes.
	retrans, retransBytes atomic.Uint64
	// nackKept caches whether the peer's answer kept NACK, nacked counts
	// the sequence numbers it asked for (nackgen.go).
	nackKept negotiated
	nacked   atomic.Uint64
	// redKept caches whether the peer's answer kept RED, redRecovered
	// counts the frames it recovered from redundant blocks (redrecover.go).
	redKept      negotiated
	redRecovered atomic.Uint64
}

// NewSession checks the scenario and prepares a session.
func NewSession(sc Scenario, log *slog.Logger) (*Session, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Session{sc: sc, log: log, closing: make(chan struct{})}
	if sc.API != "" {
		if sc.AdminKey != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			admins, err := s.clusterAdmins(ctx)
			if err != nil {
				return nil, err
			}
			s.admins = admins
		}
		return s, nil
	}
	if sc.AdminKey != "" {
		a, err := admin.New(sc.Server, sc.AdminKey)
		if err != nil {
			return nil, err
		}
		s.admin = a
	}
	return s, nil
}

// Progress is a snapshot for live display.
type Progress struct {
	Up, Failed, Wanted int
	PacketsReceived    uint64
	Phase              string
}

// Progress reports how the session is doing.
func (s *Session) Progress(phase string, wanted int) Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Progress{Up: len(s.peers), Failed: s.failed, Wanted: wanted, Phase: phase}
	for _, pr := range s.peers {
		p.PacketsReceived += pr.total.Load()
	}
	return p
}

func (p *peer) stream(ssrc uint32) *stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[ssrc]
	if st == nil {
		st = &stream{}
		p.streams[ssrc] = st
	}
	return st
}

func (p *peer) tap(sampleEvery int) client.RTPTap {
	return func(ssrc uint32, seq uint16, ts uint32, size int, arrival time.Time) bool {
		p.total.Add(1)
		p.rxBytes.Add(uint64(size))
		p.gaps.observe(arrival)
		st := p.stream(ssrc)
		if st.add(seq, ts, arrival) {
			p.retrans.Add(1)
			p.retransBytes.Add(uint64(size))
		}
		if p.nacks() {
			p.sendNACKs(ssrc, st.nackCheck(seq, arrival, nil))
		}
		st.sampleN++ // only the ICE read goroutine touches sampleN
		if st.sampleN%sampleEvery != 0 && (!p.reds() || !st.redKeep(seq)) {
			return false
		}
		st.keepSample(seq, arrival)
		return true
	}
}

// onPacket measures latency on a decrypted sample: its kernel arrival time (kept
// by the tap) less the send time the publisher wrote into the payload.
func (p *peer) onPacket(_ string, ssrc uint32, seq uint16, payload []byte, read time.Time) {
	if len(payload) < 8 {
		return
	}
	arrival, ok := p.stream(ssrc).takeSample(seq)
	if !ok {
		arrival = read
	}
	p.gaps.observeSent(int64(binary.BigEndian.Uint64(payload)), arrival)
	w := p.window.Load()
	if w == nil {
		return
	}
	sent := int64(binary.BigEndian.Uint64(payload))
	if sent < w[0] || sent >= w[1] {
		return
	}
	p.mu.Lock()
	p.latency = append(p.latency, float64(arrival.UnixNano()-sent)/1e6)
	p.mu.Unlock()
}

// Join adds n peers to room at the scenario's join rate and waits until their
// media is connected (or they failed).
func (s *Session) Join(ctx context.Context, room string, n int, publish bool) {
	interval := time.Duration(float64(time.Second) / s.sc.JoinRate)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.joinOne(ctx, room, publish)
		}()
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-time.After(interval):
		}
	}
	wg.Wait()
}

func (s *Session) joinOne(ctx context.Context, room string, publish bool) {
	id := fmt.Sprintf("lg-%d", s.counter.Add(1))
	role := map[bool]string{true: "pub", false: "sub"}[publish]
	p := &peer{room: room, publish: publish, streams: map[uint32]*stream{}}
	start := time.Now()
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	p.identity = id + "-" + role
	url, tok, err := s.credentials(jctx, p)
	if err != nil {
		s.fail(err)
		return
	}
	p.cfg = s.sc.peerConfig(publish, p.tap(s.sc.LatencySampleEvery))
	p.cfg.OnPacket, p.cfg.DTX = p.onPacket, s.sc.DTX
	p.cfg.Impair, p.cfg.OnImpairDrop = s.sc.Network.impairment(p.identity), p.onImpairDrop
	p.cfg.NACK, p.cfg.RED, p.cfg.OnRedundancy = s.sc.NACK, s.sc.RED, p.onRedundancy
	cfg := p.cfg
	cfg.URL, cfg.Token = url, tok
	c, err := client.Connect(jctx, cfg)
	if err != nil {
		s.fail(fmt.Errorf("join: %w", err))
		return
	}
	p.cmu.Lock()
	p.c = c // the tap may read it already (nackgen.go)
	p.cmu.Unlock()
	// Media connects once the peer answers an offer: a publisher's at once, a
	// listener's when there is something to hear (publishers join first).
	if err := awaitMedia(jctx, c); err != nil {
		s.fail(err)
		return
	}
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		c.Close()
		return
	default:
	}
	s.peers = append(s.peers, p)
	s.joinMs = append(s.joinMs, float64(time.Since(start).Microseconds())/1000)
	s.follows.Add(1)
	s.mu.Unlock()
	go s.follow(p)
}

// peerConfig is a synthetic peer's client, with tap reading its packets;
// URL and Token come with each join.
func (sc Scenario) peerConfig(publish bool, tap client.RTPTap) client.Config {
	cfg := client.Config{Publish: publish, Level: uint8(20 + rand.IntN(40)), LoopbackOnly: sc.LoopbackOnly, Interfaces: sc.Interfaces,
		Tap: tap, NoRTCPReports: true, TapReadPacing: sc.ReadPacing, PayloadSize: opusSize()}
	if !publish {
		cfg.Transport = sc.Transport
	}
	return cfg
}

// awaitMedia waits for c's media to connect; on failure it closes c and
// says why: no local candidate in those words, anything else with the
// media's state.
func awaitMedia(ctx context.Context, c *client.Client) error {
	err := c.WaitConnected(ctx)
	if err == nil {
		return nil
	}
	state := c.MediaState()
	c.Close()
	if errors.Is(err, client.ErrNoLocalCandidate) {
		return err
	}
	return fmt.Errorf("media did not connect (%s): %w", state, err)
}

// opusSize returns payload sizes like a 24-32 kb/s Opus voice stream (60-80 bytes
// per 20 ms frame, with an occasional larger one).
func opusSize() func() int {
	return func() int {
		if rand.IntN(20) == 0 {
			return 100 + rand.IntN(40)
		}
		return 60 + rand.IntN(21)
	}
}

func (s *Session) fail(err error) {
	s.log.Warn("peer failed to join", "err", err)
	s.mu.Lock()
	s.failed++
	if s.joinErr == nil {
		s.joinErr = err
	}
	s.mu.Unlock()
}

// JoinError is the first reason a peer failed to join, nil if none failed.
func (s *Session) JoinError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.joinErr
}

// Close disconnects every peer.
func (s *Session) Close() {
	s.mu.Lock()
	peers := s.peers
	s.peers = nil
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	s.mu.Unlock()
	s.follows.Wait() // no peer rejoins from here on
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.client().Close()
		}()
	}
	wg.Wait()
}

type serverTotals struct {
	cpu       float64
	forwarded uint64
	delayP50  float64
	delayP99  float64
	// delays pools the workers' forward-delay histograms, nil if the server
	// reports none.
	delays []uint64
	allocs uint64
	ok     bool
}

func (s *Session) serverTotals(ctx context.Context) serverTotals {
	admins := s.admins
	if s.admin != nil {
		admins = []*admin.Client{s.admin}
	}
	if len(admins) == 0 {
		return serverTotals{}
	}
	var ws []wire.AdminWorker
	for _, a := range admins {
		got, err := a.Workers(ctx)
		if err != nil {
			s.log.Warn("admin API", "err", err)
			return serverTotals{}
		}
		ws = append(ws, got...)
	}
	t := serverTotals{ok: true}
	for _, w := range ws {
		t.cpu += w.CPUSeconds
		t.forwarded += w.PacketsOut
		t.delayP50 = max(t.delayP50, w.ForwardDelayMsP50)
		t.delayP99 = max(t.delayP99, w.ForwardDelayMsP99)
		if len(w.ForwardDelayBuckets) > 0 {
			t.delays = addBuckets(t.delays, w.ForwardDelayBuckets)
		}
		t.allocs += w.HeapAllocs
	}
	return t
}

// Workers reads the server's workers through the admin API.
func (s *Session) Workers(ctx context.Context) ([]wire.AdminWorker, error) {
	if s.admin == nil {
		return nil, fmt.Errorf("an admin key is needed to read worker load")
	}
	return s.admin.Workers(ctx)
}

// Measure waits out the warmup, measures for d and reports. progress, when set,
// is called twice a second.
func (s *Session) Measure(ctx context.Context, d time.Duration, progress func(Progress)) (Report, error) {
	select {
	case <-ctx.Done():
		return Report{}, ctx.Err()
	case <-time.After(s.sc.Warmup):
	}
	s.mu.Lock()
	peers := append([]*peer(nil), s.peers...)
	joinMs := sortedCopy(s.joinMs)
	failed := s.failed
	s.mu.Unlock()
	if progress != nil {
		progress(s.Progress("starting streams", len(peers)))
	}
	streamWait := awaitStreams(ctx, peers, streamWaitLimit, (*peer).hears)
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}

	t0 := time.Now()
	seq0 := map[*peer]uint16{}
	sent0 := map[*peer]uint64{}
	rejoins0 := map[*peer]int32{}
	for _, p := range peers {
		rejoins0[p] = p.rejoins.Load()
		if p.publish {
			seq0[p] = p.client().NextSeq()
			sent0[p] = p.sent()
		} else {
			p.gaps.arm()
		}
		w := [2]int64{t0.UnixNano(), t0.Add(d).UnixNano()}
		p.window.Store(&w)
	}
	net0 := readNetworkCounters(peers)
	srv0 := s.serverTotals(ctx)
	cpu0 := selfCPU()
	busy0, total0, machineOK := cpuTimes()

	tk := time.NewTicker(500 * time.Millisecond)
	deadline := time.After(d)
loop:
	for {
		select {
		case <-ctx.Done():
			tk.Stop()
			return Report{}, ctx.Err()
		case <-deadline:
			break loop
		case <-tk.C:
			if progress != nil {
				progress(s.Progress("measuring", len(peers)))
			}
		}
	}
	tk.Stop()
	wall := time.Since(t0)
	seq1 := map[*peer]uint16{}
	var sent uint64
	gaps := map[string]float64{}
	// rejoins: the peer's new clients since the window opened; a peer with
	// any had its streams cut over, so loss is not counted for it (its gap is).
	rejoins := map[*peer]int32{}
	for _, p := range peers {
		rejoins[p] = p.rejoins.Load() - rejoins0[p]
		if p.publish {
			seq1[p] = p.client().NextSeq()
			sent += p.sent() - sent0[p]
		} else {
			gaps[p.identity] = float64(p.gaps.disarm().Microseconds()) / 1000
		}
	}
	net1 := readNetworkCounters(peers)
	srv1 := s.serverTotals(ctx)
	genCPU := selfCPU() - cpu0
	busy1, total1, machineOK1 := cpuTimes()
	time.Sleep(300 * time.Millisecond) // let packets in flight arrive

	workerOf, pathOf := s.peerWorkers(ctx, peers)
	byWorker := map[string][]float64{}
	r := Report{PeersJoined: len(peers), PeersFailed: failed, JoinError: errString(s.JoinError()), PacketsSent: sent, DurationSeconds: wall.Seconds(),
		GeneratorCPUSeconds: genCPU.Seconds(), Transport: string(s.sc.Transport), StreamWaitMs: float64(streamWait.Microseconds()) / 1000}
	r.ListenerPaths = listenerPaths(peers, pathOf)
	var latency, jitter []float64
	var raw, other uint64
	for _, l := range peers {
		var exp, got uint64
		lc := l.client()
		for _, q := range peers {
			if q == l || !q.publish || q.room != l.room {
				continue
			}
			rejoined := rejoins[q] != 0 || rejoins[l] != 0
			from := spanStart(l, q, seq0[q], rejoins[l] != 0, rejoins[q] != 0)
			st := l.streamFrom(q)
			if rejoined {
				r.RejoinedPairs++
				from, st = rejoinedSpan(st, from, seq1[q])
			}
			exp += seqCount(from, seq1[q])
			if st == nil {
				r.ListenersMissingStreams++
				continue
			}
			got += st.countRange(from, seq1[q])
			qr, qo := rawLost(q, st, from, seq1[q])
			raw, other = raw+qr, other+qo
			st.mu.Lock()
			jitter = append(jitter, st.jitter/clockRate*1000)
			st.mu.Unlock()
		}
		r.PacketsExpected += exp
		r.PacketsReceived += got
		if exp > 0 {
			r.WorstListenerLossRatio = max(r.WorstListenerLossRatio, 1-float64(got)/float64(exp))
		}
		l.mu.Lock()
		latency = append(latency, l.latency...)
		if w, ok := workerOf[lc.PeerID()]; ok {
			byWorker[w] = append(byWorker[w], l.latency...)
		}
		l.latency = nil
		l.mu.Unlock()
		l.window.Store(nil)
	}
	if r.PacketsExpected > 0 {
		r.LossRatio = 1 - float64(r.PacketsReceived)/float64(r.PacketsExpected)
	}
	r.addGaps(gaps, rejoins)
	if s.sc.Network.active() {
		r.Network = s.sc.Network.report(r, raw, other, net0, net1)
		r.Network.NACK, r.Network.RED = s.sc.NACK, s.sc.RED
		for _, p := range peers {
			if !p.publish && p.nacks() {
				r.Network.ListenersNACKing++
			}
			if !p.publish && p.reds() {
				r.Network.ListenersRED++
			}
		}
	}
	latency, jitter = sortedCopy(latency), sortedCopy(jitter)
	r.LatencySamples = len(latency)
	r.LatencyMsP50, r.LatencyMsP99 = percentile(latency, 50), percentile(latency, 99)
	r.JitterMsP50 = percentile(jitter, 50)
	r.JoinMsP50, r.JoinMsP99 = percentile(joinMs, 50), percentile(joinMs, 99)
	if len(byWorker) > 0 {
		r.LatencyMsP50ByWorker, r.LatencyMsP99ByWorker = map[string]float64{}, map[string]float64{}
		for w, v := range byWorker {
			v = sortedCopy(v)
			r.LatencyMsP50ByWorker[w], r.LatencyMsP99ByWorker[w] = percentile(v, 50), percentile(v, 99)
		}
	}
	r.ServerForwardDelayMsP50, r.ServerForwardDelayMsP99 = srv1.delayP50, srv1.delayP99
	if window, ok := windowBuckets(srv0.delays, srv1.delays); ok {
		// The window's own delays: the histograms count since the workers
		// started, joins included.
		r.ServerForwardDelayMsP50 = wire.ForwardDelayQuantileMs(window, 0.5)
		r.ServerForwardDelayMsP99 = wire.ForwardDelayQuantileMs(window, 0.99)
	}
	if srv0.ok && srv1.ok {
		r.ServerCPUSeconds = srv1.cpu - srv0.cpu
		r.ForwardedPackets = srv1.forwarded - srv0.forwarded
		if r.ForwardedPackets > 0 {
			r.CPUMicrosPerForwarded = r.ServerCPUSeconds * 1e6 / float64(r.ForwardedPackets)
			r.AllocsPerForwarded = float64(srv1.allocs-srv0.allocs) / float64(r.ForwardedPackets)
		}
	}
	if machineOK && machineOK1 && total1 > total0 {
		r.MachineBusyRatio = float64(busy1-busy0) / float64(total1-total0)
	}
	// Either the generator uses most of the cores it may use, or the machine is
	// saturated while the generator takes a fair share of it.
	genShare := genCPU.Seconds() / wall.Seconds()
	r.GeneratorBottleneck = genShare > 0.8*float64(runtime.GOMAXPROCS(0)) ||
		(r.MachineBusyRatio > 0.85 && genShare > 0.25*float64(runtime.NumCPU()))
	s.measureIdle(ctx, peers, &r, srv1.allocs-srv0.allocs) // nothing without the admin API: no packets counted
	return r, nil
}

// peerWorkers maps peer ids to the worker they are on, and to the path
// their media takes, through the admin API.
func (s *Session) peerWorkers(ctx context.Context, peers []*peer) (out, paths map[string]string) {
	out, paths = map[string]string{}, map[string]string{}
	admins := s.admins
	if s.admin != nil {
		admins = []*admin.Client{s.admin}
	}
	rooms := map[string]bool{}
	for _, p := range peers {
		rooms[p.room] = true
	}
	for room := range rooms {
		for _, a := range admins { // the room's owner knows it
			d, err := a.Room(ctx, room)
			if err != nil {
				continue
			}
			for _, p := range d.PeerList {
				out[p.ID] = fmt.Sprint(p.Worker)
				if p.Server != "" {
					out[p.ID] = admin.ShortID(p.Server) + "/" + out[p.ID]
				}
				paths[p.ID] = p.Path
			}
		}
	}
	return out, paths
}

// Run joins the scenario's peers (publishers first), measures once and leaves.
func Run(ctx context.Context, sc Scenario, log *slog.Logger, progress func(Progress)) (Report, error) {
	s, err := NewSession(sc, log)
	if err != nil {
		return Report{}, err
	}
	defer s.Close()
	wanted := sc.Rooms * (sc.Publishers + sc.Listeners)
	done := make(chan struct{})
	if progress != nil {
		go func() {
			tk := time.NewTicker(500 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-done:
					return
				case <-tk.C:
					progress(s.Progress("joining", wanted))
				}
			}
		}()
	}
	for i := 0; i < sc.Rooms; i++ {
		s.Join(ctx, fmt.Sprintf("%s-%d", sc.RoomPrefix, i), sc.Publishers, true)
	}
	for i := 0; i < sc.Rooms; i++ {
		s.Join(ctx, fmt.Sprintf("%s-%d", sc.RoomPrefix, i), sc.Listeners, false)
	}
	close(done)
	return s.Measure(ctx, sc.Duration, progress)
}

// Check returns an error when a report crosses the scenario's thresholds.
func (sc Scenario) Check(r Report) error {
	if sc.MaxLoss > 0 && r.LossRatio > sc.MaxLoss {
		return fmt.Errorf("loss %.4f%% exceeds --max-loss %.4f%%", 100*r.LossRatio, 100*sc.MaxLoss)
	}
	if sc.MaxLatencyP99 > 0 && r.LatencyMsP99 > float64(sc.MaxLatencyP99.Microseconds())/1000 {
		return fmt.Errorf("latency p99 %.2f ms exceeds --max-latency-p99 %s", r.LatencyMsP99, sc.MaxLatencyP99)
	}
	if sc.MaxGap > 0 && r.ListenerGapMsMax > float64(sc.MaxGap.Microseconds())/1000 {
		return fmt.Errorf("a listener went %.0f ms without audio; --max-gap is %s", r.ListenerGapMsMax, sc.MaxGap)
	}
	if r.PeersFailed > 0 && r.PeersJoined == 0 {
		return fmt.Errorf("no peer could join (%d failed; the first: %s)", r.PeersFailed, r.JoinError)
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// addBuckets adds histogram b into sum.
func addBuckets(sum, b []uint64) []uint64 {
	if len(sum) < len(b) {
		sum = append(sum, make([]uint64, len(b)-len(sum))...)
	}
	for i, c := range b {
		sum[i] += c
	}
	return sum
}

// windowBuckets is end minus start: what the histograms counted in between.
// It fails when a worker restarted meanwhile (a count went down).
func windowBuckets(start, end []uint64) ([]uint64, bool) {
	if len(end) == 0 || len(start) > len(end) {
		return nil, false
	}
	out := slices.Clone(end)
	for i, c := range start {
		if c > out[i] {
			return nil, false
		}
		out[i] -= c
	}
	return out, true
}
