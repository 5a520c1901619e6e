package admincmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

// ServersDrainOptions are the inputs of `voicectl servers drain ID | --self`.
type ServersDrainOptions struct {
	IO     *cmdutil.IOStreams
	Output string
	// Client connects to the admin API of the server --self drains.
	Client func() (*admin.Client, error)
	// APIClient connects to the cluster API, which drains ID.
	APIClient func() (*admin.Client, error)
	// ID is the server to drain through the cluster API; empty with Self.
	ID string
	// Deadline is --deadline; 0 leaves the server's drain.deadline.
	Deadline time.Duration
	// Self is --self: drain the server at --server and wait until it exited.
	Self bool
}

// drainSelfPoll is how often `drain --self` asks whether the server is still up.
const drainSelfPoll = 250 * time.Millisecond

// NewCmdServersDrain is `voicectl servers drain ID [--deadline 5m]`; runF
// replaces serversDrainRun in tests.
func NewCmdServersDrain(f *cmdutil.Factory, runF func(*ServersDrainOptions) error) *cobra.Command {
	opts := &ServersDrainOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "drain ID | --self",
		Short: "Drain a server: it takes nothing new, its rooms move to other servers, it exits when empty or at the deadline",
		Long: "drain tells a server (through the cluster API) to stop taking rooms and relays; the API moves\n" +
			"its rooms to other servers (their peers rejoin there by themselves) and the server exits once\n" +
			"it is empty, or at the deadline, sending what is left a reconnect. A supervisor (systemd,\n" +
			"Kubernetes) then starts it again (voicectl servers restart --rolling does it server by server).\n" +
			"With --self it drains the server of --server (admin.url) through its admin API, as SIGTERM\n" +
			"would, and waits until that server has exited: a Kubernetes preStop hook.",
		Example: "  voicectl servers drain 6f1c2a3b-0000-4000-8000-000000000001 --deadline 5m\n  voicectl servers drain --self   # in a preStop hook",
		RunE: func(_ *cobra.Command, args []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if opts.Deadline < 0 {
				return &cmdutil.UsageError{Err: fmt.Errorf("--deadline must not be negative")}
			}
			if opts.Self != (len(args) == 0) || len(args) > 1 {
				return &cmdutil.UsageError{Err: fmt.Errorf("give a server id, or --self")}
			}
			if len(args) == 1 {
				opts.ID = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return serversDrainRun(opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Deadline, "deadline", 0, "the longest the drain may last (default: the server's drain.deadline, 2m)")
	cmd.Flags().BoolVar(&opts.Self, "self", false, "drain the server at --server (admin.url, with the admin key) and wait until it has exited")
	opts.Client = addConnectionFlags(f, cmd)
	opts.APIClient = addAPIFlags(f, cmd)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func serversDrainRun(opts *ServersDrainOptions) error {
	if opts.Self {
		return drainSelfRun(opts)
	}
	c, err := opts.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	d, err := c.DrainServer(cx, opts.ID, opts.Deadline)
	if err != nil {
		return err
	}
	return cmdutil.PrintItem(opts.IO, opts.Output, d, func() error {
		_, err := fmt.Fprintf(opts.IO.Out, "server %s draining (%d peers); it exits when empty or at %s\n", d.Server, d.Peers, d.Until.Local().Format(time.RFC3339))
		return err
	})
}

// drainSelfRun drains the local server and waits until it has gone: its
// admin API stops answering once it exited.
func drainSelfRun(opts *ServersDrainOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	d, err := c.DrainSelf(cx, opts.Deadline)
	cancel()
	if err != nil {
		return err
	}
	if opts.Output == cmdutil.FormatTable {
		fmt.Fprintf(opts.IO.Out, "draining (%d peers) until %s at the latest\n", d.Peers, d.Until.Local().Format(time.RFC3339))
	}
	for time.Now().Before(d.Until.Add(15 * time.Second)) {
		cx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Workers(cx)
		cancel()
		var ae *admin.APIError
		if err != nil && !errors.As(err, &ae) {
			if opts.Output == cmdutil.FormatTable {
				fmt.Fprintln(opts.IO.Out, "drained: the server has exited")
			}
			return nil
		}
		time.Sleep(drainSelfPoll)
	}
	return fmt.Errorf("the server still answers %s after its drain deadline", d.Until.Local().Format(time.RFC3339))
}
