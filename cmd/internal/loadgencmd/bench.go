package loadgencmd

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
)

const (
	benchSecret   = "bench-secret-0123456789abcdef"
	benchAdminKey = "bench-admin-key-0123456789abcdef"
)

// BenchOptions are the inputs of the hidden `loadgen bench`.
type BenchOptions struct {
	Publishers, Listeners   int
	Duration                time.Duration
	Rounds                  int
	CalibrateStep, MaxSteps int
	SkipCalibrate           bool
	// RED has the publishers publish RED (RFC 2198): an all-RED room. Off,
	// the room is plain Opus, the one make bench has always measured, so its
	// ratio compares across changes.
	RED bool
}

// NewCmdBench returns the hidden `voicectl loadgen bench` that `make bench` runs:
// it starts its own servers on loopback and prints one key=value summary line.
func NewCmdBench(f *cmdutil.Factory) *cobra.Command {
	o := &BenchOptions{}
	cmd := &cobra.Command{
		Use:    "bench",
		Short:  "End-to-end forwarding benchmark on loopback (make bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return benchRun(f, o)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Publishers, "publishers", 2, "publishers")
	fl.IntVar(&o.Listeners, "listeners", 200, "listeners")
	fl.DurationVar(&o.Duration, "duration", 10*time.Second, "measurement window")
	fl.IntVar(&o.Rounds, "rounds", 3, "forwarding runs, each followed by a floor; the summary gives medians")
	fl.IntVar(&o.CalibrateStep, "calibrate-step", 200, "listeners added per calibration step")
	fl.IntVar(&o.MaxSteps, "calibrate-steps", 12, "calibration steps at most")
	fl.BoolVar(&o.SkipCalibrate, "skip-calibrate", false, "skip the consumers-per-worker ramp")
	fl.BoolVar(&o.RED, "red", false, "publish RED (an all-RED room); off: plain Opus, the room make bench compares across changes")
	return cmd
}

// benchServer starts `voicectl serve` with env and waits until it is ready.
func benchServer(f *cmdutil.Factory, workers int, env ...string) (string, func(), error) {
	exe, err := f.Executable()
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	cmd := exec.Command(exe, "serve", "--http-addr", addr, "--workers", fmt.Sprint(workers), "--log-level", "warn",
		"--rtc-port", fmt.Sprint(52000+100*workers), "--data-dir", os.TempDir())
	// Every synthetic peer comes from this machine's one address.
	cmd.Env = append(os.Environ(), append([]string{"VOICECTL_AUTH_SECRET=" + benchSecret, "VOICECTL_AUTH_ADMIN_KEY=" + benchAdminKey,
		"VOICECTL_SIGNAL_MAX_CONNECTIONS_PER_ADDRESS=0"}, env...)...)
	cmd.Stderr = f.IO.ErrOut
	// Its own process group, so deprioritizeGenerator leaves the server alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	base := "http://" + addr
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, stop, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("server at %s did not become ready", base)
}

// deprioritizeGenerator lowers the scheduling priority of this process's group
// (every thread of the load generator, not the servers it started). Generator and
// server share this machine's two cores; without it the kernel would sometimes
// run generator threads while a fan-out waits, and the server's delay figures
// would measure the generator.
func deprioritizeGenerator(logf func(string, ...any)) {
	if err := syscall.Setpriority(syscall.PRIO_PGRP, 0, 10); err != nil {
		logf("generator priority unchanged: %v", err)
	}
}

func benchRun(f *cmdutil.Factory, o *BenchOptions) error {
	ctx, cancel := signalContext()
	defer cancel()
	logf := func(format string, a ...any) { fmt.Fprintf(f.IO.ErrOut, format+"\n", a...) }
	deprioritizeGenerator(logf)
	sc := loadgen.DefaultScenario()
	sc.Secret, sc.AdminKey, sc.LoopbackOnly = benchSecret, benchAdminKey, true
	sc.RED = o.RED
	// Steady state begins once every transport has sent its first RTCP sender
	// report, at most 1.5 report intervals (7.5 s) after it connected: the
	// worker prepares the report's SRTCP context when the transport connects,
	// but pion still makes the SRTCP state of each SSRC on its first report.
	// After the window every publisher
	// pauses for 5 s, to split the worker's CPU into a per-peer background and
	// a marginal cost per forwarded packet (loadgen.IdleReport).
	sc.JoinRate, sc.Warmup, sc.IdleWindow = 200, 8*time.Second, 5*time.Second
	// Listeners read their sockets every 200 ms (kernel timestamps keep loss,
	// jitter and latency exact): the generator shares this machine with the server.
	sc.ReadPacing = 200 * time.Millisecond

	if o.Rounds < 1 {
		return fmt.Errorf("--rounds must be at least 1")
	}
	// 1. One worker, P publishers x L listeners, in rounds: a forwarding run,
	// then the floor (see benchRound).
	base, stop, err := benchServer(f, 1, "VOICECTL_WORKER_MAX_CONSUMERS=1000000")
	if err != nil {
		return err
	}
	sc.Server, sc.Rooms, sc.Publishers, sc.Listeners, sc.Duration = base, 1, o.Publishers, o.Listeners, o.Duration
	// The floor: raw sendmmsg of equal-size packets to as many destinations,
	// read as the listeners read, in bursts at the run's rate (one fan-out per
	// published packet).
	floorParams := loadgen.FloorParams{Packets: 100 * o.Listeners * o.Publishers, Size: 110, Destinations: o.Listeners,
		BurstInterval: time.Second / time.Duration(50*o.Publishers), ReadPacing: sc.ReadPacing}
	rounds := make([]benchRound, 0, o.Rounds)
	for i := range o.Rounds {
		roundSc := sc
		roundSc.RoomPrefix = fmt.Sprintf("bench-%d", i+1)
		fwd, err := loadgen.Run(ctx, roundSc, nil, nil)
		if err != nil {
			stop()
			return err
		}
		dump(logf, fmt.Sprintf("forwarding run %d", i+1), fwd)
		floor, err := loadgen.Floor(floorParams)
		if err != nil {
			stop()
			return err
		}
		dump(logf, fmt.Sprintf("floor %d", i+1), floor)
		rounds = append(rounds, benchRound{fwd: fwd, floor: floor})
	}
	sum := summarizeRounds(rounds)

	// 2. consumers per worker: ramp until loss >= 0.5% (CPU and latency unlimited).
	consumers, cpuUsAtCapacity := 0, 0.0
	if !o.SkipCalibrate {
		// Rooms of --listeners each (P x L, as the forwarding run), opened one after
		// another on the worker: every join is announced to every peer of its room,
		// so one room of thousands would time the signalling, not the worker. Joins
		// of a room queue behind each other (its media changes are serialised); a
		// slower join rate keeps the queue short enough that none times out.
		calSc := sc
		calSc.JoinRate, calSc.Warmup, calSc.IdleWindow = 50, 2*time.Second, 0
		cal, err := loadgen.Calibrate(ctx, loadgen.CalibrateParams{Scenario: calSc, Publishers: o.Publishers, Step: o.CalibrateStep,
			MaxListeners: o.CalibrateStep * o.MaxSteps, Window: 3 * time.Second, MaxLoss: 0.005, MaxCPU: 1e9, Margin: 0,
			RoomListeners: o.Listeners},
			func(s loadgen.CalibrateStep) {
				logf("calibrate: %d listeners, load %d, worker CPU %.0f%% (%.2f µs per forwarded packet), loss %.3f%%",
					s.Listeners, s.LoadUnits, 100*s.WorkerCPU, s.Report.CPUMicrosPerForwarded, 100*s.Report.LossRatio)
			})
		if err != nil {
			stop()
			return err
		}
		logf("calibrate stopped: %s", cal.StopReason)
		consumers, cpuUsAtCapacity = benchCapacity(cal.Steps, 0.005)
	}
	stop()

	// 3. The floor back to back, for comparison.
	tightParams := floorParams
	tightParams.BurstInterval, tightParams.Batch = 0, 128
	tight, err := loadgen.Floor(tightParams)
	if err != nil {
		return err
	}
	dump(logf, "floor, back to back", tight)

	// 4. A pipe hop: publishers on worker 0, listeners split over workers 0 and 1.
	base2, stop2, err := benchServer(f, 2, "VOICECTL_WORKER_MAX_CONSUMERS=100", "VOICECTL_WORKER_PIPE_HEADROOM=0.2")
	if err != nil {
		return err
	}
	sc2 := sc
	sc2.Server, sc2.Publishers, sc2.Listeners, sc2.Duration, sc2.RoomPrefix = base2, 2, 76, o.Duration, "pipe"
	sc2.Warmup, sc2.IdleWindow = 2*time.Second, 0 // latencies only
	hop, err := loadgen.Run(ctx, sc2, nil, nil)
	stop2()
	if err != nil {
		return err
	}
	dump(logf, "pipe run", hop)

	fmt.Fprintf(f.IO.Out, "cpu_us_per_forwarded_packet=%.2f floor_us=%.2f ratio=%.2f rounds=%d cpu_us_min=%.2f cpu_us_max=%.2f marginal_cpu_us=%.2f background_cpu_ms_per_s=%.1f floor_back_to_back_us=%.2f consumers_per_worker=%d cpu_us_at_capacity=%.2f delay_ms_p50=%.3f delay_ms_p99=%.3f pipe_hop_ms_p50=%.3f pipe_hop_ms_p99=%.3f allocs_per_packet=%.3f marginal_allocs_per_packet=%.3f loss_ratio=%.5f latency_ms_p99=%.2f room=%s\n",
		sum.cpuUs, sum.floorUs, sum.ratio, len(rounds), sum.cpuUsMin, sum.cpuUsMax, sum.marginalCPUUs, sum.backgroundCPUMs, tight.CPUMicrosPerPkt, consumers, cpuUsAtCapacity,
		sum.delayMsP50, sum.delayMsP99,
		hop.LatencyMsP50ByWorker["1"]-hop.LatencyMsP50ByWorker["0"], hop.LatencyMsP99ByWorker["1"]-hop.LatencyMsP99ByWorker["0"],
		sum.allocs, sum.marginalAllocs, sum.loss, sum.latencyP99, roomKind(o.RED))
	return nil
}

func dump(logf func(string, ...any), what string, v any) {
	b, _ := json.Marshal(v)
	logf("%s: %s", what, b)
}

// roomKind names what the publishers sent, for the summary line.
func roomKind(red bool) string {
	if red {
		return "red"
	}
	return "opus"
}
