package admincmd

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/admin"
	"github.com/voicectl/voicectl/cmd/internal/cfgload"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/config"
)

// addConnectionFlags adds --server, --admin-key and --config to cmd and returns
// what connects to the server's admin API they name. The configuration is read
// when the command runs, after the flags are parsed: a missing key is a
// ConfigError of that command, not of the ones that do not connect.
func addConnectionFlags(f *cmdutil.Factory, cmd *cobra.Command) func() (*admin.Client, error) {
	var configFile string
	fl := cmd.Flags()
	fl.String("server", config.Defaults()["admin.url"].(string), "server URL (admin.url, VOICECTL_ADMIN_URL)")
	fl.String("admin-key", "", "admin API key (auth.admin_key, VOICECTL_AUTH_ADMIN_KEY)")
	fl.StringVar(&configFile, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
	return func() (*admin.Client, error) {
		cfg, err := cfgload.Load(cfgload.Options{
			File:     configFile,
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

// addAPIFlags adds --api, --api-key and (unless addConnectionFlags did) --config
// to cmd and returns what connects to the cluster API they name. A command that
// takes both asks cmd.Flags().Changed("api") which one the user meant.
func addAPIFlags(f *cmdutil.Factory, cmd *cobra.Command) func() (*admin.Client, error) {
	var configFile string
	fl := cmd.Flags()
	fl.String("api", "http://"+config.Defaults()["api.addr"].(string), "the cluster API's URL")
	fl.String("api-key", "", "API key (auth.api_key, VOICECTL_AUTH_API_KEY)")
	if fl.Lookup("config") == nil {
		fl.StringVar(&configFile, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
	}
	return func() (*admin.Client, error) {
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
