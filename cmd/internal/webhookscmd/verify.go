package webhookscmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/webhook"
)

// VerifyOptions are the inputs of `webhooks verify`.
type VerifyOptions struct {
	IO        *cmdutil.IOStreams
	Signature string
	// Payload is a file with the raw body, "-" for standard input.
	Payload   string
	Tolerance time.Duration
	Key       func() ([]byte, error)
	Now       func() time.Time
}

// NewCmdVerify returns `voicectl webhooks verify`; runF replaces verifyRun in tests.
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO, Now: clock(f)}
	cmd := &cobra.Command{
		Use:   "verify --signature HEADER [--payload FILE]",
		Short: "Check a webhook body against its Voicectl-Signature header",
		Long: "Check a webhook body (the raw bytes, from --payload or standard input) against its\n" +
			"Voicectl-Signature header under webhooks.key. Exit status 0: genuine and fresh;\n" +
			"1: refused (forged, altered, malformed, or outside the replay window: replayed);\n" +
			"3: no key.",
		Example: "  voicectl webhooks verify --key $KEY --signature 't=1765060000,v1=5257a8…' --payload body.json\n" +
			"  curl … | voicectl webhooks verify --signature \"$SIG\"",
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(opts)
		},
	}
	opts.Key = keyFlags(f, cmd)
	cmd.Flags().StringVar(&opts.Signature, "signature", "", "the Voicectl-Signature header's value (required)")
	cmd.Flags().StringVar(&opts.Payload, "payload", "-", "file with the raw request body; - reads standard input")
	cmd.Flags().DurationVar(&opts.Tolerance, "tolerance", webhook.DefaultTolerance, "replay window: the largest difference between the signed time and now")
	_ = cmd.MarkFlagRequired("signature")
	_ = cmd.MarkFlagFilename("payload", "json")
	return cmd
}

func verifyRun(o *VerifyOptions) error {
	if o.Tolerance <= 0 {
		return &cmdutil.UsageError{Err: fmt.Errorf("--tolerance must be positive")}
	}
	key, err := o.Key()
	if err != nil {
		return err
	}
	var body []byte
	if o.Payload == "-" {
		body, err = io.ReadAll(o.IO.In)
	} else {
		body, err = os.ReadFile(o.Payload)
	}
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	signed, err := webhook.Verify(key, o.Signature, body, o.Now(), o.Tolerance)
	if err != nil {
		return &RefusedError{Err: err}
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		// Signed by the key, yet not an event: say so, it is not ours.
		return &RefusedError{Err: fmt.Errorf("the signature holds but the body is not a voicectl event")}
	}
	_, err = fmt.Fprintf(o.IO.Out, "valid: %s %s (room %q), signed %s\n", ev.Type, ev.ID, ev.Room, signed.UTC().Format(time.RFC3339))
	return err
}
