// Package webhookscmd implements `voicectl webhooks listen` (a local receiver
// for developers that checks signatures and prints events, as `stripe
// listen` does) and `voicectl webhooks verify` (one payload and signature).
// Both check with server/webhook, the package the sender signs with.
package webhookscmd

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cfgload"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/config"
)

// NewCmdWebhooks returns `voicectl webhooks`.
func NewCmdWebhooks(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhooks <command>",
		Short: "Receive and check the signed webhooks voicectl sends (docs/webhooks.md)",
	}
	cmd.AddCommand(NewCmdListen(f, nil))
	cmd.AddCommand(NewCmdVerify(f, nil))
	return cmd
}

// keyFlags adds --key and --config and returns how to read the key: the
// flag, else webhooks.key from VOICECTL_WEBHOOKS_KEY or the config file.
func keyFlags(f *cmdutil.Factory, cmd *cobra.Command) func() ([]byte, error) {
	var file string
	cmd.Flags().String("key", "", "the shared signing key (default webhooks.key from VOICECTL_WEBHOOKS_KEY or the config file)")
	cmd.Flags().StringVar(&file, "config", "", "config file (default ./voicectl.yaml, then /etc/voicectl/voicectl.yaml)")
	return func() ([]byte, error) {
		cfg, err := cfgload.Load(cfgload.Options{File: file, Flags: cmd.Flags(), FlagKey: map[string]string{"key": "webhooks.key"},
			Environ: f.Environ(), Validate: func(*config.Config) error { return nil }})
		if err != nil {
			return nil, &cmdutil.ConfigError{Err: err}
		}
		if cfg.Webhooks.Key == "" {
			return nil, &cmdutil.ConfigError{Err: errors.New("webhooks.key is not set (use --key, VOICECTL_WEBHOOKS_KEY or the config file)")}
		}
		return []byte(cfg.Webhooks.Key), nil
	}
}

// clock is the factory's clock, else the system's.
func clock(f *cmdutil.Factory) func() time.Time {
	if f.Now != nil {
		return f.Now
	}
	return time.Now
}

// RefusedError is a signature that does not hold: exit code 1 with what was
// wrong (forged, replayed, malformed).
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return fmt.Sprintf("refused: %v", e.Err) }
func (e *RefusedError) Unwrap() error { return e.Err }
