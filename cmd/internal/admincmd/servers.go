package admincmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cfgload"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/wire"
)

// NewCmdServers returns `voicectl servers`: the cluster's servers, from the
// API's registry; runF replaces serversRun in tests.
func NewCmdServers(f *cmdutil.Factory, runF func(*Options, []string) error) *cobra.Command {
	opts := &Options{IO: f.IO, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "servers",
		Short:   "List the cluster's servers (from voicectl api): state, rooms, peers, stress per worker, heartbeat age",
		Example: "  voicectl servers --api http://127.0.0.1:7870 --api-key $VOICECTL_AUTH_API_KEY\n  voicectl servers -o json",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, a []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts, a)
			}
			return serversRun(opts, a)
		},
	}
	addAPIFlags(f, cmd, opts)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	cmd.AddCommand(newCmdServersDrain(f, runF), newCmdServersRestart(f, runF))
	return cmd
}

// newCmdServersDrain is `voicectl servers drain ID [--deadline 5m]`.
func newCmdServersDrain(f *cmdutil.Factory, runF func(*Options, []string) error) *cobra.Command {
	opts := &Options{IO: f.IO, Now: f.Now}
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
		RunE: func(_ *cobra.Command, a []string) error {
			if err := cmdutil.CheckFormat(opts.Output); err != nil {
				return err
			}
			if opts.Deadline < 0 {
				return &cmdutil.UsageError{Err: fmt.Errorf("--deadline must not be negative")}
			}
			if opts.Self != (len(a) == 0) || len(a) > 1 {
				return &cmdutil.UsageError{Err: fmt.Errorf("give a server id, or --self")}
			}
			if runF != nil {
				return runF(opts, a)
			}
			if opts.Self {
				return drainSelfRun(opts)
			}
			return serversDrainRun(opts, a)
		},
	}
	cmd.Flags().DurationVar(&opts.Deadline, "deadline", 0, "the longest the drain may last (default: the server's drain.deadline, 2m)")
	cmd.Flags().BoolVar(&opts.Self, "self", false, "drain the server at --server (admin.url, with the admin key) and wait until it has exited")
	addConnectionFlags(f, cmd, opts)
	addAPIFlags(f, cmd, opts)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

func serversDrainRun(o *Options, args []string) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	d, err := c.DrainServer(cx, args[0], o.Deadline)
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, d)
	}
	fmt.Fprintf(o.IO.Out, "server %s draining (%d peers); it exits when empty or at %s\n", d.Server, d.Peers, d.Until.Local().Format(time.RFC3339))
	return nil
}

// drainSelfRun drains the local server and waits until it has gone: its
// admin API stops answering once it exited.
func drainSelfRun(o *Options) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	d, err := c.DrainSelf(cx, o.Deadline)
	cancel()
	if err != nil {
		return err
	}
	if o.Output == cmdutil.FormatTable {
		fmt.Fprintf(o.IO.Out, "draining (%d peers) until %s at the latest\n", d.Peers, d.Until.Local().Format(time.RFC3339))
	}
	for time.Now().Before(d.Until.Add(15 * time.Second)) {
		cx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Workers(cx)
		cancel()
		var ae *admin.APIError
		if err != nil && !errors.As(err, &ae) {
			if o.Output == cmdutil.FormatTable {
				fmt.Fprintln(o.IO.Out, "drained: the server has exited")
			}
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("the server still answers %s after its drain deadline", d.Until.Local().Format(time.RFC3339))
}

// addAPIFlags adds --api, --api-key and --config and sets opts.APIClient.
func addAPIFlags(f *cmdutil.Factory, cmd *cobra.Command, opts *Options) {
	var configFile string
	fl := cmd.Flags()
	fl.String("api", "http://"+config.Defaults()["api.addr"].(string), "the cluster API's URL")
	fl.String("api-key", "", "API key (auth.api_key, VOICECTL_AUTH_API_KEY)")
	if fl.Lookup("config") == nil {
		fl.StringVar(&configFile, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
	}
	opts.UseAPI = func() bool { return fl.Changed("api") }
	opts.APIClient = func() (*admin.Client, error) {
		if c := fl.Lookup("config"); c != nil {
			configFile = c.Value.String()
		}
		cfg, err := cfgload.Load(cfgload.Options{File: configFile, Flags: fl, FlagKey: map[string]string{"api-key": "auth.api_key"},
			Environ: f.Environ(), Validate: func(*config.Config) error { return nil }})
		if err != nil {
			return nil, &cmdutil.ConfigError{Err: err}
		}
		if cfg.Auth.APIKey == "" {
			return nil, &cmdutil.ConfigError{Err: fmt.Errorf("no API key: use --api-key, VOICECTL_AUTH_API_KEY or auth.api_key in the config file")}
		}
		url, _ := fl.GetString("api")
		c, err := admin.New(url, cfg.Auth.APIKey)
		if err != nil {
			return nil, &cmdutil.ConfigError{Err: err}
		}
		c.HTTP = f.HTTPClient()
		return c, nil
	}
}

func serversRun(o *Options, _ []string) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	ss, err := c.Servers(cx)
	if err != nil {
		return err
	}
	if o.Output != cmdutil.FormatTable {
		return cmdutil.PrintData(o.IO.Out, o.Output, ss)
	}
	return cmdutil.PrintTable(o.IO, serverHeader, serverRows(o, ss))
}

var serverHeader = []string{"id", "url", "state", "rooms", "peers", "relayed peers/rooms", "stress", "workers", "new rooms", "heartbeat", "version"}

func serverRows(o *Options, ss []wire.ClusterServer) [][]string {
	rows := make([][]string, 0, len(ss))
	for _, s := range ss {
		var ws []string
		for _, w := range s.Workers {
			ws = append(ws, fmt.Sprintf("%.0f%%", 100*w.Stress))
		}
		state := s.State
		if state == "live" && !s.Accepting {
			state = "live (full)"
		}
		rows = append(rows, []string{s.ID, s.SignalURL, state, fmt.Sprint(s.Rooms), fmt.Sprint(s.Peers),
			fmt.Sprintf("%d/%d", s.RelayPeers, s.RelayRooms), fmt.Sprintf("%.0f%%", 100*s.Stress),
			strings.Join(ws, " "), admin.YesNo(s.Accepting), age(o.Now(), s.LastSeen), s.Version})
	}
	return rows
}
