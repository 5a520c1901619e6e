// Package admincmd implements the admin commands: workers, rooms, peers, pipes.
// They talk to a server's admin API through the admin package.
package admincmd

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cfgload"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/config"
)

// Options are what every admin command shares.
type Options struct {
	IO     *cmdutil.IOStreams
	Output string
	Now    func() time.Time
	// Client connects to the configured server.
	Client func() (*admin.Client, error)
	// APIClient connects to the cluster API (--api), where a command takes it;
	// UseAPI reports whether --api was given.
	APIClient func() (*admin.Client, error)
	UseAPI    func() bool
	// MoveTo is `rooms move --to`.
	MoveTo string
	// Deadline is `servers drain --deadline`.
	Deadline time.Duration
	// Self is `servers drain --self`.
	Self bool
	// Wait is `servers restart --wait`.
	Wait time.Duration
}

// connection holds the flags that pick the server.
type connection struct {
	configFile string
}

// addConnectionFlags adds --server, --admin-key and --config and sets opts.Client.
func addConnectionFlags(f *cmdutil.Factory, cmd *cobra.Command, opts *Options) {
	conn := &connection{}
	fl := cmd.Flags()
	fl.String("server", config.Defaults()["admin.url"].(string), "server URL (admin.url, VOICECTL_ADMIN_URL)")
	fl.String("admin-key", "", "admin API key (auth.admin_key, VOICECTL_AUTH_ADMIN_KEY)")
	fl.StringVar(&conn.configFile, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
	opts.Client = func() (*admin.Client, error) {
		cfg, err := cfgload.Load(cfgload.Options{
			File:     conn.configFile,
			Flags:    fl,
			FlagKey:  map[string]string{"server": "admin.url", "admin-key": "auth.admin_key"},
			Environ:  f.Environ(),
			Validate: validateClient,
		})
		if err != nil {
			return nil, &cmdutil.ConfigError{Err: err}
		}
		if cfg.Auth.AdminKey == "" {
			return nil, &cmdutil.ConfigError{Err: fmt.Errorf("no admin key: use --admin-key, VOICECTL_AUTH_ADMIN_KEY or auth.admin_key in the config file")}
		}
		c, err := admin.New(cfg.Admin.URL, cfg.Auth.AdminKey)
		if err != nil {
			return nil, &cmdutil.ConfigError{Err: err}
		}
		c.HTTP = f.HTTPClient()
		return c, nil
	}
}

func validateClient(c *config.Config) error {
	u, err := url.Parse(c.Admin.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &config.KeyError{Key: "admin.url", Err: fmt.Errorf("%q is not an http(s) URL", c.Admin.URL)}
	}
	return nil
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}

// age renders a duration the way people read it: 45s, 12m, 3h, 2d.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// newAdminCmd completes cmd (its Use, Short, Args...) as an admin command: the
// connection and output flags, the --output check, and run (or runF, in tests).
func newAdminCmd(f *cmdutil.Factory, cmd *cobra.Command, runF, run func(*Options, []string) error) *cobra.Command {
	opts := &Options{IO: f.IO, Now: f.Now}
	cmd.RunE = func(_ *cobra.Command, a []string) error {
		if err := cmdutil.CheckFormat(opts.Output); err != nil {
			return err
		}
		if runF != nil {
			return runF(opts, a)
		}
		return run(opts, a)
	}
	addConnectionFlags(f, cmd, opts)
	cmdutil.AddOutputFlag(cmd, &opts.Output)
	return cmd
}
