// Package token implements `voicectl token create`.
package token

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cfgload"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/config"
)

// CreateOptions are the inputs of `token create`.
type CreateOptions struct {
	IO         *cmdutil.IOStreams
	Room       string
	Identity   string
	TTL        time.Duration
	NoPublish  bool
	ConfigFile string
	Secret     func() (string, error)
	Now        func() time.Time
}

// NewCmdToken returns `voicectl token`.
func NewCmdToken(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "token <command>", Short: "Mint join tokens"}
	cmd.AddCommand(NewCmdCreate(f, nil))
	return cmd
}

// NewCmdCreate returns `voicectl token create`; runF replaces createRun in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IO, Now: time.Now}
	var secretFlag string
	cmd := &cobra.Command{
		Use:   "create --room ROOM --identity NAME",
		Short: "Print a join token signed with auth.secret",
		Example: "  voicectl token create --room standup --identity alice --ttl 2h\n" +
			"  VOICECTL_AUTH_SECRET=... voicectl token create --room town-hall --identity guest42 --no-publish",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.Secret = func() (string, error) {
				cfg, err := cfgload.Load(cfgload.Options{File: opts.ConfigFile, Flags: c.Flags(),
					FlagKey: map[string]string{"secret": "auth.secret"}, Environ: f.Environ()})
				var ke *config.KeyError
				if err != nil && !(errors.As(err, &ke) && ke.Key == "auth.secret") {
					return "", &cmdutil.ConfigError{Err: err}
				}
				if len(cfg.Auth.Secret) < config.MinSecretLen {
					return "", &cmdutil.ConfigError{Err: fmt.Errorf("auth.secret is not set (use --secret, VOICECTL_AUTH_SECRET or the config file)")}
				}
				return cfg.Auth.Secret, nil
			}
			if runF != nil {
				return runF(opts)
			}
			return createRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Room, "room", "", "room the token admits to (required)")
	cmd.Flags().StringVar(&opts.Identity, "identity", "", "peer identity (required)")
	cmd.Flags().DurationVar(&opts.TTL, "ttl", 6*time.Hour, "how long the token is valid")
	cmd.Flags().BoolVar(&opts.NoPublish, "no-publish", false, "listener only: the peer may not send audio")
	cmd.Flags().StringVar(&opts.ConfigFile, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
	cmd.Flags().StringVar(&secretFlag, "secret", "", "signing secret (default auth.secret from config)")
	_ = cmd.MarkFlagRequired("room")
	_ = cmd.MarkFlagRequired("identity")
	return cmd
}

func createRun(o *CreateOptions) error {
	if o.TTL <= 0 {
		return &cmdutil.UsageError{Err: fmt.Errorf("--ttl must be positive")}
	}
	secret, err := o.Secret()
	if err != nil {
		return err
	}
	tok, err := auth.Sign([]byte(secret), auth.Grant{Room: o.Room, Identity: o.Identity, Publish: !o.NoPublish, Expires: o.Now().Add(o.TTL)})
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	_, err = fmt.Fprintln(o.IO.Out, tok)
	return err
}
