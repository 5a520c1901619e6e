package loadgencmd

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
)

// RunOptions are the inputs of `loadgen run`.
type RunOptions struct {
	IO       *cmdutil.IOStreams
	Scenario loadgen.Scenario
	Output   string
	// CPUProfile, when set, writes the generator's own CPU profile there.
	CPUProfile string
}

// NewCmdRun returns `voicectl loadgen run`.
func NewCmdRun(f *cmdutil.Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO}
	var t target
	var scenarioFile string
	sc := loadgen.DefaultScenario()
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Join synthetic publishers and listeners, measure loss, jitter, latency and server CPU",
		Example: "  voicectl loadgen run --rooms 4 --publishers 2 --listeners 50 --duration 30s\n" +
			"  voicectl loadgen run --scenario scenario.yaml --max-loss 0.005 --max-latency-p99 40ms -o json\n" +
			"  voicectl loadgen run --loss 5% --jitter 20ms --seed 7 -o json   # raw and residual loss on a bad network",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			opts.Scenario = sc
			if scenarioFile != "" {
				if err := loadgen.LoadScenario(scenarioFile, &opts.Scenario); err != nil {
					return &cmdutil.UsageError{Err: err}
				}
				// Flags given on the command line win over the file.
				flagged := loadgen.DefaultScenario()
				applyFlags(c, &flagged, &sc, &opts.Scenario)
			}
			if err := t.resolve(f, c.Flags(), &opts.Scenario); err != nil {
				return err
			}
			if err := opts.Scenario.Validate(); err != nil {
				return &cmdutil.UsageError{Err: err}
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(opts)
		},
	}
	fl := cmd.Flags()
	addTargetFlags(fl, &t)
	fl.StringVar(&scenarioFile, "scenario", "", "scenario YAML (flags given too win)")
	fl.IntVar(&sc.Rooms, "rooms", sc.Rooms, "rooms")
	fl.IntVar(&sc.Publishers, "publishers", sc.Publishers, "publishers per room")
	fl.IntVar(&sc.Listeners, "listeners", sc.Listeners, "listeners per room")
	fl.Float64Var(&sc.JoinRate, "join-rate", sc.JoinRate, "joins per second")
	fl.DurationVar(&sc.Duration, "duration", sc.Duration, "measurement window")
	fl.DurationVar(&sc.Warmup, "warmup", sc.Warmup, "wait after the joins before measuring")
	fl.DurationVar(&sc.IdleWindow, "idle-window", 0, "after the window, pause the publishers this long to measure what connected peers cost the server alone")
	fl.BoolVar(&sc.DTX, "dtx", false, "publishers use discontinuous transmission (2 s talk, 2 s silence)")
	fl.Float64Var(&sc.MaxLoss, "max-loss", 0, "exit non-zero when the loss ratio exceeds this (0.005 = 0.5%)")
	fl.DurationVar(&sc.MaxLatencyP99, "max-latency-p99", 0, "exit non-zero when latency p99 exceeds this")
	fl.DurationVar(&sc.MaxGap, "max-gap", 0, "exit non-zero when a listener goes longer than this without audio (a move, a drain, a restart)")
	fl.BoolVar(&sc.LoopbackOnly, "loopback-only", false, "restrict ICE to loopback addresses (a server URL on loopback does it by itself)")
	fl.StringSliceVar(&sc.Interfaces, "interfaces", nil, "restrict the peers' ICE to these network interfaces (comma-separated)")
	fl.Var(transportFlag{&sc.Transport}, "transport", "hold the listeners' media to one path: udp, tcp, turn-udp, turn-tcp or turn-tls (TURN from the join answer's ice_servers); unset lets ICE pick")
	addNetworkFlags(fl, &sc.Network, &sc.NACK, &sc.RED)
	fl.DurationVar(&sc.ReadPacing, "read-pacing", sc.ReadPacing, "pause between a peer's socket reads (batches reads; kernel timestamps keep timings exact)")
	fl.IntVar(&sc.LatencySampleEvery, "latency-sample-every", sc.LatencySampleEvery, "decrypt one packet in N per stream to measure latency (the rest are counted from their clear headers)")
	fl.StringVar(&sc.RoomPrefix, "room-prefix", sc.RoomPrefix, "room name prefix")
	fl.StringVar(&sc.API, "api", "", "run against a cluster: join every peer through this `voicectl api` URL (rooms are created there) and add up every server's workers")
	fl.StringVar(&sc.APIKey, "api-key", "", "the API's key (auth.api_key, VOICECTL_AUTH_API_KEY) for --api")
	fl.StringVar(&opts.CPUProfile, "cpuprofile", "", "write the generator's CPU profile to this file")
	_ = fl.MarkHidden("cpuprofile")
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

// applyFlags copies the scenario fields whose flags were given over the file's.
func applyFlags(c *cobra.Command, _ *loadgen.Scenario, fromFlags, into *loadgen.Scenario) {
	fl := c.Flags()
	set := map[string]func(){
		"rooms": func() { into.Rooms = fromFlags.Rooms }, "publishers": func() { into.Publishers = fromFlags.Publishers },
		"listeners": func() { into.Listeners = fromFlags.Listeners }, "join-rate": func() { into.JoinRate = fromFlags.JoinRate },
		"duration": func() { into.Duration = fromFlags.Duration }, "warmup": func() { into.Warmup = fromFlags.Warmup },
		"dtx": func() { into.DTX = fromFlags.DTX }, "idle-window": func() { into.IdleWindow = fromFlags.IdleWindow }, "max-loss": func() { into.MaxLoss = fromFlags.MaxLoss },
		"max-latency-p99": func() { into.MaxLatencyP99 = fromFlags.MaxLatencyP99 }, "max-gap": func() { into.MaxGap = fromFlags.MaxGap },
		"loopback-only": func() { into.LoopbackOnly = fromFlags.LoopbackOnly }, "room-prefix": func() { into.RoomPrefix = fromFlags.RoomPrefix },
		"interfaces":           func() { into.Interfaces = fromFlags.Interfaces },
		"transport":            func() { into.Transport = fromFlags.Transport },
		"read-pacing":          func() { into.ReadPacing = fromFlags.ReadPacing },
		"latency-sample-every": func() { into.LatencySampleEvery = fromFlags.LatencySampleEvery },
		"api":                  func() { into.API = fromFlags.API }, "api-key": func() { into.APIKey = fromFlags.APIKey },
	}
	for name, apply := range set {
		if fl.Changed(name) {
			apply()
		}
	}
	applyNetworkFlags(fl, fromFlags, into)
}

func runRun(o *RunOptions) error {
	ctx, cancel := signalContext()
	defer cancel()
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.Scenario.AdminKey == "" {
		fmt.Fprintln(o.IO.ErrOut, "warning: no admin key: server CPU and forwarded packets will read 0")
	}
	r, err := loadgen.Run(ctx, o.Scenario, nil, progressPrinter(o.IO))
	if o.IO.ErrIsTerminal {
		fmt.Fprintln(o.IO.ErrOut)
	}
	if err != nil {
		return err
	}
	if r.GeneratorBottleneck {
		fmt.Fprintf(o.IO.ErrOut, "warning: the load generator used %.1f CPU seconds in %.1f s with the machine %.0f%% busy: its own CPU is a bottleneck, so loss and latency overstate the server's\n",
			r.GeneratorCPUSeconds, r.DurationSeconds, 100*r.MachineBusyRatio)
	}
	if err := printReport(o.IO, o.Output, r); err != nil {
		return err
	}
	return o.Scenario.Check(r)
}

// printReport writes a run's report: -o json|yaml as it is, the table a
// metric per row (maps as sorted key=value pairs, see reportRows).
func printReport(ios *cmdutil.IOStreams, format string, r loadgen.Report) error {
	return cmdutil.PrintItem(ios, format, r, func() error {
		return cmdutil.PrintTable(ios, []string{"metric", "value"}, reportRows(r))
	})
}
