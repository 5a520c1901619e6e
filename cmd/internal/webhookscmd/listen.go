package webhookscmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/webhook"
)

// ListenOptions are the inputs of `webhooks listen`.
type ListenOptions struct {
	IO        *cmdutil.IOStreams
	Addr      string
	Forward   string
	Tolerance time.Duration
	Key       func() ([]byte, error)
	Now       func() time.Time
	// HTTPClient forwards events.
	HTTPClient func() *http.Client
	// Ready, when set, is told the address listened on (tests listen on :0).
	Ready func(net.Addr)
}

// NewCmdListen returns `voicectl webhooks listen`; runF replaces listenRun in tests.
func NewCmdListen(f *cmdutil.Factory, runF func(context.Context, *ListenOptions) error) *cobra.Command {
	opts := &ListenOptions{IO: f.IO, Now: clock(f), HTTPClient: f.HTTPClient}
	cmd := &cobra.Command{
		Use:   "listen [--addr HOST:PORT] [--forward URL]",
		Short: "Receive webhooks locally: check each signature and print the event",
		Long: "Receive webhooks on a local address (point webhooks.urls at it): each request's\n" +
			"Voicectl-Signature is checked under webhooks.key and each event printed once (an id\n" +
			"seen before is answered 200 and not printed again): a table on a terminal, one JSON\n" +
			"object per line when piped. With --forward each genuine event is POSTed on, headers\n" +
			"and all, and the sender gets the forward's answer (so it retries when your app fails).\n" +
			"Forged or replayed requests are answered 401 and reported on standard error.",
		Example: "  voicectl webhooks listen --key $KEY\n" +
			"  voicectl webhooks listen --addr 127.0.0.1:7890 --forward http://localhost:3000/hooks | jq .type",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if runF != nil {
				return runF(ctx, opts)
			}
			return listenRun(ctx, opts)
		},
	}
	opts.Key = keyFlags(f, cmd)
	cmd.Flags().StringVar(&opts.Addr, "addr", "127.0.0.1:7890", "address to listen on")
	cmd.Flags().StringVar(&opts.Forward, "forward", "", "URL to POST each genuine event on to (your app)")
	cmd.Flags().DurationVar(&opts.Tolerance, "tolerance", webhook.DefaultTolerance, "replay window: the largest difference between the signed time and now")
	return cmd
}

func listenRun(ctx context.Context, o *ListenOptions) error {
	if o.Tolerance <= 0 {
		return &cmdutil.UsageError{Err: fmt.Errorf("--tolerance must be positive")}
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return &cmdutil.UsageError{Err: fmt.Errorf("--addr: %w", err)}
	}
	key, err := o.Key()
	if err != nil {
		return err
	}
	rcv, err := newReceiver(o, key)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(o.IO.ErrOut, "Listening for webhooks on http://%s", ln.Addr())
	if o.Forward != "" {
		fmt.Fprintf(o.IO.ErrOut, ", forwarding to %s", o.Forward)
	}
	fmt.Fprintln(o.IO.ErrOut, " (Ctrl-C to stop)")
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
