// Package loadgencmd implements `voicectl loadgen run|calibrate`.
package loadgencmd

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/voicectl/voicectl/cmd/internal/cfgload"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
	"github.com/voicectl/voicectl/server/config"
)

// NewCmdLoadgen returns `voicectl loadgen`.
func NewCmdLoadgen(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "loadgen <command>",
		Short: "Drive synthetic peers to measure and calibrate a server's capacity",
	}
	cmd.AddCommand(NewCmdRun(f, nil), NewCmdCalibrate(f, nil), NewCmdFloor(f), NewCmdBench(f), NewCmdStorm(f, nil), NewCmdSoak(f, nil))
	return cmd
}

// target is how a loadgen command finds and authenticates to the server.
type target struct {
	configFile string
}

func addTargetFlags(fl *pflag.FlagSet, t *target) {
	fl.String("server", config.Defaults()["admin.url"].(string), "server URL (admin.url)")
	fl.String("secret", "", "the server's auth.secret, to mint join tokens (VOICECTL_AUTH_SECRET)")
	fl.String("admin-key", "", "admin key, to read server CPU and packets (auth.admin_key)")
	fl.StringVar(&t.configFile, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
}

// resolve fills server, secret and admin key from flags, environment and config.
func (t *target) resolve(f *cmdutil.Factory, fl *pflag.FlagSet, sc *loadgen.Scenario) error {
	cfg, err := cfgload.Load(cfgload.Options{File: t.configFile, Flags: fl, Environ: f.Environ(),
		FlagKey:  map[string]string{"server": "admin.url", "secret": "auth.secret", "admin-key": "auth.admin_key"},
		Validate: func(*config.Config) error { return nil }})
	if err != nil {
		return &cmdutil.ConfigError{Err: err}
	}
	if fl.Changed("server") || sc.Server == "" || sc.Server == loadgen.DefaultScenario().Server {
		sc.Server = cfg.Admin.URL
	}
	if sc.Secret == "" || fl.Changed("secret") {
		sc.Secret = cfg.Auth.Secret
	}
	if sc.AdminKey == "" || fl.Changed("admin-key") {
		sc.AdminKey = cfg.Auth.AdminKey
	}
	if sc.API != "" && sc.APIKey == "" {
		sc.APIKey = cfg.Auth.APIKey
	}
	return nil
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// progressPrinter shows a status line on a terminal and a plain line every few
// seconds otherwise.
func progressPrinter(ios *cmdutil.IOStreams) func(loadgen.Progress) {
	var last time.Time
	return func(p loadgen.Progress) {
		line := fmt.Sprintf("%s: peers %d/%d up, %d failed, %d packets received", p.Phase, p.Up, p.Wanted, p.Failed, p.PacketsReceived)
		if ios.ErrIsTerminal {
			fmt.Fprintf(ios.ErrOut, "\r\033[K%s", line)
			return
		}
		if time.Since(last) >= 2*time.Second {
			fmt.Fprintln(ios.ErrOut, line)
			last = time.Now()
		}
	}
}
