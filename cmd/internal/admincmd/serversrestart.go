package admincmd

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
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

// newCmdServersRestart is `voicectl servers restart --rolling [ID...]`.
func newCmdServersRestart(f *cmdutil.Factory, runF func(*Options, []string) error) *cobra.Command {
	opts := &Options{IO: f.IO, Now: f.Now}
	rolling := true
	cmd := &cobra.Command{
		Use:   "restart [ID...]",
		Short: "Restart servers one at a time (rolling): drain each, wait until it is back in the registry, then the next",
		Long: "restart drains the given servers (default: every live one) one at a time, through the cluster\n" +
			"API: a server's rooms move to the others, it exits, its supervisor (systemd Restart=always,\n" +
			"a Kubernetes Deployment) starts it again, and once its heartbeats show the new process the\n" +
			"next server drains. Calls go on throughout: peers follow their rooms' moves.",
		Example: "  voicectl servers restart --rolling --deadline 2m --api http://api:7870",
		RunE: func(_ *cobra.Command, a []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if !rolling {
				return &cmdutil.UsageError{Err: fmt.Errorf("only rolling restarts: restarting every server at once drops every call (drain them one by one)")}
			}
			if opts.Deadline < 0 || opts.Wait <= 0 {
				return &cmdutil.UsageError{Err: fmt.Errorf("--deadline must not be negative and --wait must be positive")}
			}
			if runF != nil {
				return runF(opts, a)
			}
			return serversRestartRun(opts, a)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&rolling, "rolling", true, "one server at a time (the only way)")
	fl.DurationVar(&opts.Deadline, "deadline", 0, "each server's drain deadline (default: its drain.deadline, 2m)")
	fl.DurationVar(&opts.Wait, "wait", 3*time.Minute, "how long to wait for each server to be back, drain included")
	addAPIFlags(f, cmd, opts)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func serversRestartRun(o *Options, ids []string) error {
	c, err := o.APIClient()
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
		if s.State == "live" {
			live = append(live, s.ID)
		}
	}
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
		d, err := c.DrainServer(cx, id, o.Deadline)
		cancel()
		if err != nil {
			return fmt.Errorf("drain %s: %w", id, err)
		}
		if o.Output == cmdutil.FormatTable {
			fmt.Fprintf(o.IO.Out, "[%d/%d] %s draining (%d peers)\n", i+1, len(ids), id, d.Peers)
		}
		if err := awaitRestarted(c, id, started[id], o.Wait); err != nil {
			return err
		}
		step := RestartStep{Server: id, Peers: d.Peers, BackAfterSeconds: time.Since(t0).Seconds()}
		steps = append(steps, step)
		if o.Output == cmdutil.FormatTable {
			fmt.Fprintf(o.IO.Out, "[%d/%d] %s back after %.1fs\n", i+1, len(ids), id, step.BackAfterSeconds)
		}
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, steps)
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
					if s.State == "live" && s.StartedAt.After(was) {
						return nil
					}
				}
			}
		}
		time.Sleep(restartPoll)
	}
	return fmt.Errorf("server %s not back within %s (last seen %s, state %s): is a supervisor restarting it?", id, wait, last.LastSeen.Format(time.RFC3339), last.State)
}
