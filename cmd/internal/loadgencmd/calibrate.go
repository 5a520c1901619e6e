package loadgencmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
)

// CalibrateOptions are the inputs of `loadgen calibrate`.
type CalibrateOptions struct {
	IO          *cmdutil.IOStreams
	Params      loadgen.CalibrateParams
	WriteConfig string
	Output      string
}

// NewCmdCalibrate returns `voicectl loadgen calibrate`.
func NewCmdCalibrate(f *cmdutil.Factory, runF func(*CalibrateOptions) error) *cobra.Command {
	opts := &CalibrateOptions{IO: f.IO}
	var t target
	p := loadgen.CalibrateParams{Publishers: 2, Step: 50, MaxListeners: 3000, Window: 5 * time.Second,
		MaxLoss: 0.005, MaxCPU: 0.8, MaxLatencyP99: 50 * time.Millisecond, Margin: 0.2}
	var loopback bool
	def := loadgen.DefaultScenario()
	network, nack, red := def.Network, def.NACK, def.RED
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Ramp listeners against one worker and recommend worker.max_consumers",
		Long: "calibrate joins publishers and then listeners in steps into one room, measuring each step,\n" +
			"until loss, the worker's CPU or latency p99 crosses its limit (with --room-listeners, in\n" +
			"several rooms of that size on the worker). It recommends\n" +
			"worker.max_consumers (the last good load less a safety margin). Run it against a server\n" +
			"with one worker and a worker.max_consumers high enough not to refuse the ramp.\n" +
			"With --loss, --burst-loss, --jitter or --reorder the peers' own sockets impair the network\n" +
			"and --max-loss limits only the loss no impairment explains (the report's network.other_loss_ratio).",
		Example: "  voicectl loadgen calibrate --step 100 --write-config /etc/voicectl/voicectl.yaml\n" +
			"  voicectl loadgen calibrate --step 100 --loss 5% --jitter 20ms",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			sc := loadgen.DefaultScenario()
			sc.LoopbackOnly = loopback
			sc.Network, sc.NACK, sc.RED = network, nack, red
			if err := network.Validate(""); err != nil {
				return &cmdutil.UsageError{Err: err}
			}
			sc.Warmup = time.Second
			if err := t.resolve(f, c.Flags(), &sc); err != nil {
				return err
			}
			p.Scenario = sc
			opts.Params = p
			if runF != nil {
				return runF(opts)
			}
			return calibrateRun(opts)
		},
	}
	fl := cmd.Flags()
	addTargetFlags(fl, &t)
	fl.IntVar(&p.Publishers, "publishers", p.Publishers, "publishers in the room")
	fl.IntVar(&p.Step, "step", p.Step, "listeners added per step")
	fl.IntVar(&p.MaxListeners, "max-listeners", p.MaxListeners, "stop the ramp here")
	fl.IntVar(&p.RoomListeners, "room-listeners", 0, "listeners per room before the ramp opens another room on the worker (0: one room)")
	fl.DurationVar(&p.Window, "window", p.Window, "measurement window per step")
	fl.Float64Var(&p.MaxLoss, "max-loss", p.MaxLoss, "loss ratio limit")
	fl.Float64Var(&p.MaxCPU, "max-cpu", p.MaxCPU, "worker CPU limit, as a share of one core")
	fl.DurationVar(&p.MaxLatencyP99, "max-latency-p99", p.MaxLatencyP99, "latency p99 limit")
	fl.Float64Var(&p.Margin, "margin", p.Margin, "safety margin taken off the last good load")
	fl.StringVar(&opts.WriteConfig, "write-config", "", "write worker.max_consumers into this YAML config file")
	fl.BoolVar(&loopback, "loopback-only", false, "restrict ICE to 127.0.0.1")
	addNetworkFlags(fl, &network, &nack, &red)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func calibrateRun(o *CalibrateOptions) error {
	ctx, cancel := signalContext()
	defer cancel()
	res, err := loadgen.Calibrate(ctx, o.Params, func(s loadgen.CalibrateStep) {
		fmt.Fprintf(o.IO.ErrOut, "listeners %d: load %d units, worker CPU %.0f%% (%.2f µs per forwarded packet), loss %.3f%%, latency p99 %.1f ms\n",
			s.Listeners, s.LoadUnits, 100*s.WorkerCPU, s.Report.CPUMicrosPerForwarded, 100*s.Report.LossRatio, s.Report.LatencyMsP99)
	})
	if err != nil {
		return err
	}
	if o.WriteConfig != "" {
		if err := loadgen.WriteCapacity(o.WriteConfig, res.RecommendedMaxConsume); err != nil {
			return err
		}
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, res)
	}
	fmt.Fprintf(o.IO.Out, "stopped: %s\nlast good load: %d units on worker %d, %.2f µs of CPU per forwarded packet\nrecommended worker.max_consumers: %d\n",
		res.StopReason, res.CapacityUnits, res.Worker, res.CPUMicrosAtCapacity, res.RecommendedMaxConsume)
	if o.WriteConfig != "" {
		fmt.Fprintf(o.IO.Out, "written to %s\n", o.WriteConfig)
	}
	return nil
}
