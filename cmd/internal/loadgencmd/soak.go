package loadgencmd

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
	"github.com/voicectl/voicectl/loadgen/soakplot"
)

// SoakOptions are the inputs of `loadgen soak`.
type SoakOptions struct {
	IO       *cmdutil.IOStreams
	Scenario loadgen.SoakScenario
	Output   string
	CSV      string // samples, one row each
	Plot     string // the samples as a PNG
}

// NewCmdSoak returns `voicectl loadgen soak`: a long run with churn and
// worker kills that fails on growth or loss (make soak).
func NewCmdSoak(f *cmdutil.Factory, runF func(*SoakOptions) error) *cobra.Command {
	opts := &SoakOptions{IO: f.IO}
	var t target
	sc := loadgen.DefaultSoak()
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Run peers in churn for a long time, SIGKILL a worker every so often, sample the server's processes; fail on growth or loss",
		Long: "Every room keeps --publishers and --listeners, each peer staying a random time between --life-min and --life-max " +
			"before a new one takes its place; a worker (round robin) is SIGKILLed every --kill-every, so the server must run on this machine. " +
			"Every --sample-every the control process's and the workers' resident memory, goroutines, open files and allocation rates are read " +
			"through the admin API. The soak fails when a figure's peak in the last quarter exceeds its peak in the first quarter after " +
			"--warmup by more than --max-growth, or when a listener loses more than --max-loss of the packets sent while it was connected.",
		Example: "  voicectl loadgen soak --length 1h --csv soak.csv --plot soak.png -o json",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if err := t.resolve(f, c.Flags(), &sc.Scenario); err != nil {
				return err
			}
			opts.Scenario = sc
			if err := opts.Scenario.Validate(); err != nil {
				return &cmdutil.UsageError{Err: err}
			}
			if runF != nil {
				return runF(opts)
			}
			return runSoak(opts)
		},
	}
	fl := cmd.Flags()
	addTargetFlags(fl, &t)
	fl.DurationVar(&sc.Length, "length", sc.Length, "how long the soak runs")
	fl.IntVar(&sc.Rooms, "rooms", sc.Rooms, "rooms")
	fl.IntVar(&sc.Publishers, "publishers", sc.Publishers, "publishers per room")
	fl.IntVar(&sc.Listeners, "listeners", sc.Listeners, "listeners per room")
	fl.Float64Var(&sc.JoinRate, "join-rate", sc.JoinRate, "joins per second while the rooms fill")
	fl.DurationVar(&sc.LifeMin, "life-min", sc.LifeMin, "shortest stay of a peer")
	fl.DurationVar(&sc.LifeMax, "life-max", sc.LifeMax, "longest stay of a peer (at most 20m)")
	fl.DurationVar(&sc.KillEvery, "kill-every", sc.KillEvery, "SIGKILL a worker this often (0: never)")
	fl.DurationVar(&sc.SampleEvery, "sample-every", sc.SampleEvery, "sample the processes this often")
	fl.DurationVar(&sc.Warmup, "warmup", sc.Warmup, "samples before this are not judged")
	fl.Float64Var(&sc.MaxGrowth, "max-growth", sc.MaxGrowth, "a figure may grow by this fraction (plus a small slack) from the first quarter to the last")
	fl.Float64Var(&sc.MaxLoss, "max-loss", sc.MaxLoss, "the most a listener may lose (0.005 = 0.5%)")
	fl.Float64Var(&sc.MaxJoinFailures, "max-join-failures", sc.MaxJoinFailures, "the share of joins that may fail")
	fl.BoolVar(&sc.LoopbackOnly, "loopback-only", false, "restrict ICE to loopback addresses (a server URL on loopback does it by itself)")
	fl.StringVar(&sc.RoomPrefix, "room-prefix", sc.RoomPrefix, "room name prefix")
	fl.StringVar(&opts.CSV, "csv", "", "write the samples to this CSV file")
	fl.StringVar(&opts.Plot, "plot", "", "plot the samples to this PNG file")
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func runSoak(o *SoakOptions) error {
	ctx, cancel := signalContext()
	defer cancel()
	log := slog.New(slog.NewTextHandler(o.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	kill := func(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
	r, err := loadgen.Soak(ctx, o.Scenario, kill, log)
	if err != nil {
		return err
	}
	if o.CSV != "" {
		if err := writeFile(o.CSV, func(f *os.File) error { return loadgen.WriteSoakCSV(f, r.Samples) }); err != nil {
			return err
		}
	}
	if o.Plot != "" {
		if err := writeFile(o.Plot, func(f *os.File) error { return soakplot.Write(f, r.Samples, r.Kills) }); err != nil {
			return err
		}
	}
	if o.Output != cmdutil.FormatTable {
		if err := cmdutil.PrintData(o.IO.Out, o.Output, r); err != nil {
			return err
		}
	} else {
		rows := reportRows(r)
		for _, c := range r.Checks {
			rows = append(rows, []string{c.Figure, fmt.Sprintf("%.0f → %.0f (peak %.0f, bound %.0f)", c.Start, c.End, c.Final, c.Bound)})
		}
		if err := cmdutil.PrintTable(o.IO, []string{"metric", "value"}, rows); err != nil {
			return err
		}
	}
	if len(r.Failed) > 0 {
		return errors.New("soak failed: " + strings.Join(r.Failed, "; "))
	}
	return nil
}

func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
