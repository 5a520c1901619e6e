package admincmd

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// RestartStep is one server of a rolling restart, for -o json.
type RestartStep struct {
	Server string `json:"server"`
	// Peers were on it when the drain began.
	Peers int `json:"peers"`
	// BackAfter is from the drain request to the restarted server's first
	// heartbeat.
	BackAfterSeconds float64 `json:"back_after_seconds"`
}

// ServersRestartOptions are the inputs of `voicectl servers restart --rolling [ID...]`.
type ServersRestartOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	// APIClient connects to the cluster API.
	APIClient func() (*admin.Client, error)
	// IDs are the servers to restart; none means every live one.
	IDs []string
	// Rolling is --rolling, the only way: false is a usage error.
	Rolling bool
	// Deadline is each server's drain deadline; 0 leaves its drain.deadline.
	Deadline time.Duration
	// Wait is how long each server may take to be back, drain included.
	Wait time.Duration
}

// NewCmdServersRestart is `voicectl servers restart --rolling [ID...]`; runF
// replaces serversRestartRun in tests.
func NewCmdServersRestart(f *cmdutil.Factory, runF func(*ServersRestartOptions) error) *cobra.Command {
	opts := &ServersRestartOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "restart [ID...]",
		Short: "Restart servers one at a time (rolling): drain each, wait until it is back in the registry, then the next",
		Long: "restart drains the given servers (default: every live one) one at a time, through the cluster\n" +
			"API: a server's rooms move to the others, it exits, its supervisor (systemd Restart=always,\n" +
			"a Kubernetes Deployment) starts it again, and once its heartbeats show the new process the\n" +
			"next server drains. Calls go on throughout: peers follow their rooms' moves.",
		Example: "  voicectl servers restart --rolling --deadline 2m --api http://api:7870",
		RunE: func(_ *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if !opts.Rolling {
				return &cmdutil.UsageError{Err: fmt.Errorf("only rolling restarts: restarting every server at once drops every call (drain them one by one)")}
			}
			if opts.Deadline < 0 || opts.Wait <= 0 {
				return &cmdutil.UsageError{Err: fmt.Errorf("--deadline must not be negative and --wait must be positive")}
			}
			opts.IDs = args
			if runF != nil {
				return runF(opts)
			}
			return serversRestartRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Rolling, "rolling", true, "one server at a time (the only way)")
	fl.DurationVar(&opts.Deadline, "deadline", 0, "each server's drain deadline (default: its drain.deadline, 2m)")
	fl.DurationVar(&opts.Wait, "wait", 3*time.Minute, "how long to wait for each server to be back, drain included")
	opts.APIClient = addAPIFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func serversRestartRun(opts *ServersRestartOptions) error {
	c, err := opts.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	before, err := c.Servers(cx)
	cancel()
	if err != nil {
		return err
	}
	started := map[string]time.Time{}
	var live []string
	for _, s := range before {
		started[s.ID] = s.StartedAt
		if s.State == cluster.ServerLive {
			live = append(live, s.ID)
		}
	}
	ids := slices.Clone(opts.IDs)
	if len(ids) == 0 {
		ids = live
	}
	slices.Sort(ids)
	var steps []RestartStep
	for i, id := range ids {
		if _, known := started[id]; !known {
			return fmt.Errorf("no server %s in the registry", id)
		}
		t0 := time.Now()
		cx, cancel := ctx()
		d, err := c.DrainServer(cx, id, opts.Deadline)
		cancel()
		if err != nil {
			return fmt.Errorf("drain %s: %w", id, err)
		}
		if opts.Output == cmdutil.FormatTable {
			fmt.Fprintf(opts.IO.Out, "[%d/%d] %s draining (%d peers)\n", i+1, len(ids), id, d.Peers)
		}
		if err := awaitRestarted(c, id, started[id], opts.Wait); err != nil {
			return err
		}
		step := RestartStep{Server: id, Peers: d.Peers, BackAfterSeconds: time.Since(t0).Seconds()}
		steps = append(steps, step)
		if opts.Output == cmdutil.FormatTable {
			fmt.Fprintf(opts.IO.Out, "[%d/%d] %s back after %.1fs\n", i+1, len(ids), id, step.BackAfterSeconds)
		}
	}
	if opts.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(opts.IO.Out, opts.Output, steps)
	}
	return nil
}

// restartPoll is how often a rolling restart reads the registry.
const restartPoll = 250 * time.Millisecond

// awaitRestarted waits until id is live with a process started after was.
func awaitRestarted(c *admin.Client, id string, was time.Time, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	var last wire.ClusterServer
	for time.Now().Before(deadline) {
		cx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ss, err := c.Servers(cx)
		cancel()
		if err == nil {
			for _, s := range ss {
				if s.ID == id {
					last = s
					if s.State == cluster.ServerLive && s.StartedAt.After(was) {
						return nil
					}
				}
			}
		}
		time.Sleep(restartPoll)
	}
	return fmt.Errorf("server %s not back within %s (last seen %s, state %s): is a supervisor restarting it?", id, wait, last.LastSeen.Format(time.RFC3339), last.State)
}
