// Package serve implements `voicectl serve`.
package serve

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/busopen"
	"github.com/voicectl/voicectl/cmd/internal/cfgload"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/control"
)

// Options are the inputs of `serve`.
type Options struct {
	IO         *cmdutil.IOStreams
	Config     config.Config
	Executable func() (string, error)
	Version    string
	// Ready, when set, is called with the HTTP address once the server is up.
	Ready func(addr string)
	// Stop ends the server; nil means SIGINT or SIGTERM.
	Stop <-chan struct{}
}

// flagKeys maps serve's flags to configuration keys.
var flagKeys = map[string]string{
	"http-addr":      "http.addr",
	"rtc-port":       "rtc.port",
	"workers":        "worker.count",
	"dev":            "dev",
	"data-dir":       "data_dir",
	"log-level":      "log.level",
	"log-format":     "log.format",
	"rtc-interfaces": "rtc.interfaces",
	"announced-ip":   "rtc.announced_ip",
	"amqp-url":       "bus.url",
	"public-url":     "cluster.public_url",
	"turn":           "turn.enabled",
}

// NewCmdServe returns `voicectl serve`; runF replaces serveRun in tests.
func NewCmdServe(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Executable: f.Executable, Version: f.Version}
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a voice server: signalling, rooms and media workers",
		Long: "serve starts the control process (HTTP signalling at /v1/rtc, the browser page at /,\n" +
			"/healthz, /readyz) and one media worker process per core, worker i on UDP rtc.port+i.",
		Example: "  voicectl serve --dev\n  VOICECTL_AUTH_SECRET=... voicectl serve --http-addr :7880 --workers 4",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := cfgload.Load(cfgload.Options{File: configFile, Flags: c.Flags(), FlagKey: flagKeys, Environ: f.Environ()})
			if err != nil {
				return &cmdutil.ConfigError{Err: err}
			}
			opts.Config = cfg
			if runF != nil {
				return runF(opts)
			}
			return serveRun(opts)
		},
	}
	d := config.Defaults()
	fl := cmd.Flags()
	fl.StringVar(&configFile, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
	fl.String("http-addr", d["http.addr"].(string), "HTTP listen address (signalling, page, health)")
	fl.Int("rtc-port", d["rtc.port"].(int), "UDP port of worker 0; worker i uses rtc-port+i")
	fl.Int("workers", 0, "worker processes (0 = one per core)")
	fl.Bool("dev", false, "development mode: generated secret, dev tokens for the browser page")
	fl.String("data-dir", d["data_dir"].(string), "directory for state kept across restarts")
	fl.String("log-level", d["log.level"].(string), "log level: debug, info, warn, error")
	fl.String("log-format", d["log.format"].(string), "log format: auto (text on a terminal), text, json")
	fl.StringSlice("rtc-interfaces", nil, "interfaces allowed for ICE candidates (default all)")
	fl.String("announced-ip", "", "public IP announced in candidates (1:1 NAT)")
	fl.String("amqp-url", "", "RabbitMQ URL (bus.url): join a cluster behind `voicectl api`; empty runs single-node")
	fl.String("public-url", "", "URL clients reach this server's signalling at, handed out by the API (cluster.public_url)")
	fl.Bool("turn", false, "start the embedded TURN server (turn.enabled): UDP/TCP on turn.udp_port, TLS on turn.tls_port")
	return cmd
}

func serveRun(o *Options) error {
	cfg := o.Config
	level, err := cmdutil.ParseLevel(cfg.Log.Level)
	if err != nil {
		return &cmdutil.ConfigError{Err: err}
	}
	log := cmdutil.NewLogger(o.IO.ErrOut, o.IO.ErrIsTerminal, level, cfg.Log.Format)
	if err := checkDataDir(cfg.DataDir); err != nil {
		return &cmdutil.ConfigError{Err: fmt.Errorf("data_dir: %w", err)}
	}
	exe, err := o.Executable()
	if err != nil {
		return err
	}
	workerCmd := func(int) *exec.Cmd {
		cmd := exec.Command(exe, "worker", "--log-level", cfg.Log.Level)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		cmd.Stderr = o.IO.ErrOut
		return cmd
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	params := control.Params{Config: cfg, Logger: log, WorkerCmd: workerCmd, Version: o.Version, Registerer: reg, Gatherer: reg}
	if cfg.ClusterMode() {
		id, err := cluster.LoadOrCreateServerID(cfg.DataDir)
		if err != nil {
			return &cmdutil.ConfigError{Err: fmt.Errorf("data_dir: %w", err)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		b, err := busopen.Open(ctx, cfg.Bus.URL, "voicectl-serve-"+string(id), log, reg)
		cancel()
		if err != nil {
			return err
		}
		defer b.Close()
		params.ServerID, params.Bus = id, b
		log.Info("cluster mode", "server", id, "signal_url", cfg.SignalURL())
	}
	c, err := control.New(params)
	if err != nil {
		return err
	}
	// SIGTERM or SIGINT drains (drain.deadline); a second one exits at once.
	sigs := make(chan os.Signal, 2)
	if o.Stop == nil {
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigs)
	}
	stop, err := c.Start(context.Background())
	if err != nil {
		return err
	}
	addr := c.Addr()
	if cfg.Dev {
		fmt.Fprintf(o.IO.Out, "voicectl %s serving in dev mode\n", o.Version)
		if cfg.Auth.Secret == "" {
			fmt.Fprintf(o.IO.Out, "dev secret (auth.secret): %s\n", c.Secret())
		}
		if cfg.Auth.AdminKey == "" {
			fmt.Fprintf(o.IO.Out, "dev admin key (auth.admin_key): %s\n", c.AdminKey())
		}
		fmt.Fprintf(o.IO.Out, "Open %s in two browser tabs and talk.\n", pageURL(addr))
	} else {
		fmt.Fprintf(o.IO.Out, "voicectl %s serving on http://%s\n", o.Version, addr)
	}
	if o.Ready != nil {
		o.Ready(addr)
	}
	select {
	case <-o.Stop:
	case sig := <-sigs:
		log.Info("draining before exit; send the signal again to exit now", "signal", sig.String(), "deadline", cfg.Drain.Deadline.String())
		c.Drain(cfg.Drain.Deadline)
		select {
		case <-c.Drained():
		case sig := <-sigs:
			log.Warn("second signal: exiting now", "signal", sig.String())
		}
	case <-c.Drained(): // voicectl servers drain
	}
	log.Info("stopping")
	stop()
	log.Info("stopped")
	return nil
}

func pageURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return "http://" + addr + "/?room=demo"
}
