// Package apicmd implements `voicectl api`, the cluster's front door for apps.
package apicmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/api/directory/sqldir"
	"github.com/voicectl/voicectl/api/service"
	"github.com/voicectl/voicectl/cmd/internal/busopen"
	"github.com/voicectl/voicectl/cmd/internal/cfgload"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/config"
)

// Options are the inputs of `voicectl api`.
type Options struct {
	IO      *cmdutil.IOStreams
	Config  config.Config
	Version string
}

var flagKeys = map[string]string{
	"http-addr":    "api.addr",
	"amqp-url":     "bus.url",
	"database-url": "api.database_url",
	"data-dir":     "data_dir",
	"log-level":    "log.level",
	"log-format":   "log.format",
	"dev":          "dev",
}

// NewCmdAPI returns `voicectl api`; runF replaces apiRun in tests.
func NewCmdAPI(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Version: f.Version}
	var configFile string
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Run the cluster's HTTP API: rooms placed by usage over RabbitMQ, join tokens, servers, failover",
		Long: "api is the front door for apps in cluster mode (docs/api.md): POST /v1/rooms, POST /v1/rooms/{room}/join,\n" +
			"GET /v1/rooms, GET /v1/servers. It keeps room → server in SQLite (data_dir) or PostgreSQL (--database-url).",
		Example: "  VOICECTL_AUTH_SECRET=... VOICECTL_AUTH_API_KEY=... voicectl api --amqp-url amqp://guest:guest@127.0.0.1:5672/",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := cfgload.Load(cfgload.Options{File: configFile, Flags: c.Flags(), FlagKey: flagKeys, Environ: f.Environ(),
				Validate: (*config.Config).ValidateAPI})
			if err != nil {
				return &cmdutil.ConfigError{Err: err}
			}
			opts.Config = cfg
			if runF != nil {
				return runF(opts)
			}
			return apiRun(opts)
		},
	}
	d := config.Defaults()
	fl := cmd.Flags()
	fl.StringVar(&configFile, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
	fl.String("http-addr", d["api.addr"].(string), "HTTP listen address (api.addr)")
	fl.String("amqp-url", "", "RabbitMQ URL (bus.url), required")
	fl.String("database-url", "", "postgres://… for a shared directory (api.database_url); default SQLite in --data-dir")
	fl.String("data-dir", d["data_dir"].(string), "directory of the SQLite directory")
	fl.String("log-level", d["log.level"].(string), "log level: debug, info, warn, error")
	fl.String("log-format", d["log.format"].(string), "log format: auto (text on a terminal), text, json")
	fl.Bool("dev", false, "development mode: the browser page at / joins through GET /v1/dev/join without a key")
	return cmd
}

func apiRun(o *Options) error {
	cfg := o.Config
	level, err := cmdutil.ParseLevel(cfg.Log.Level)
	if err != nil {
		return &cmdutil.ConfigError{Err: err}
	}
	log := cmdutil.NewLogger(o.IO.ErrOut, o.IO.ErrIsTerminal, level, cfg.Log.Format).With("proc", "api")
	if cfg.API.DatabaseURL == "" || cfg.Webhooks.Enabled() {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return &cmdutil.ConfigError{Err: fmt.Errorf("data_dir: %w", err)}
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	octx, ocancel := context.WithTimeout(ctx, 30*time.Second)
	dir, err := sqldir.Open(octx, cfg.API.DatabaseURL, cfg.DataDir)
	if err != nil {
		ocancel()
		return err
	}
	defer dir.Close()
	b, err := busopen.Open(octx, cfg.Bus.URL, "voicectl-api", log, reg)
	ocancel()
	if err != nil {
		return err
	}
	defer b.Close()
	events, stopWebhooks, err := startWebhooks(cfg, log, reg, b)
	if err != nil {
		return err
	}
	defer stopWebhooks()
	svc := service.New(service.Params{Logger: log, Bus: b, Directory: dir, Secret: []byte(cfg.Auth.Secret), APIKey: cfg.Auth.APIKey,
		HighWater: cfg.Cluster.HighWater, Heartbeat: cfg.Cluster.Heartbeat, DeadAfter: cfg.Cluster.DeadAfter,
		CreateTimeout: cfg.Cluster.CreateTimeout, MoveMargin: cfg.Cluster.MoveMargin, Rebalance: cfg.Cluster.Rebalance,
		RebalanceCooldown: cfg.Cluster.RebalanceCooldown, TokenTTL: cfg.API.TokenTTL, Registerer: reg, Gatherer: reg, Version: o.Version, Dev: cfg.Dev, Events: events,
		Probe: service.HTTPProbe([]byte(cfg.Auth.Secret), nil)})
	if err := svc.Start(); err != nil {
		return err
	}
	defer svc.Stop()
	l, err := net.Listen("tcp", cfg.API.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.API.Addr, err)
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	fmt.Fprintf(o.IO.Out, "voicectl %s api on http://%s (directory: %s)\n", o.Version, l.Addr(), dir.Kind())
	log.Info("api listening", "http", l.Addr().String(), "directory", dir.Kind())
	select {
	case <-ctx.Done():
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	log.Info("api stopped")
	return nil
}
