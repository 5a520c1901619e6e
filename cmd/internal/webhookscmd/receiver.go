package webhookscmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/webhook"
)

// maxBody bounds a request's body: events are well under a kilobyte.
const maxBody = 1 << 20

// receiver is the listener's HTTP handler: verify, forward, deduplicate, print.
type receiver struct {
	o       *ListenOptions
	key     []byte
	forward string
	out     *printer

	mu   sync.Mutex
	seen map[string]bool
}

func newReceiver(o *ListenOptions, key []byte) (*receiver, error) {
	if o.Forward != "" {
		u, err := url.Parse(o.Forward)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, &cmdutil.UsageError{Err: fmt.Errorf("--forward %q: want an http:// or https:// URL", o.Forward)}
		}
	}
	return &receiver{o: o, key: key, forward: o.Forward, out: newPrinter(o.IO), seen: map[string]bool{}}, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST webhooks here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		http.Error(w, "cannot read the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if _, err := webhook.Verify(r.key, req.Header.Get(webhook.SignatureHeader), body, r.o.Now(), r.o.Tolerance); err != nil {
		fmt.Fprintf(r.o.IO.ErrOut, "refused a request from %s: %v\n", req.RemoteAddr, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		fmt.Fprintf(r.o.IO.ErrOut, "refused a signed body that is not an event: %s\n", truncate(body))
		http.Error(w, "not a voicectl event", http.StatusBadRequest)
		return
	}
	if r.forward != "" {
		if status, err := r.forwardOn(req.Context(), req.Header, body); err != nil {
			fmt.Fprintf(r.o.IO.ErrOut, "forward of %s %s failed (the sender retries): %v\n", ev.Type, ev.ID, err)
			http.Error(w, "forward failed: "+err.Error(), http.StatusBadGateway)
			return
		} else if status/100 != 2 {
			fmt.Fprintf(r.o.IO.ErrOut, "forward of %s %s answered %d (the sender retries)\n", ev.Type, ev.ID, status)
			w.WriteHeader(status)
			return
		}
	}
	r.mu.Lock()
	dup := r.seen[ev.ID]
	r.seen[ev.ID] = true
	if !dup {
		r.out.event(ev, body)
	}
	r.mu.Unlock()
	if dup {
		fmt.Fprintf(r.o.IO.ErrOut, "%s %s delivered again (already printed)\n", ev.Type, ev.ID)
	}
	w.WriteHeader(http.StatusNoContent)
}

// forwardOn POSTs the body on with the sender's voicectl headers, so the
// app behind checks the same signature.
func (r *receiver) forwardOn(ctx context.Context, h http.Header, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.forward, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for _, k := range []string{webhook.SignatureHeader, webhook.EventIDHeader, webhook.EventTypeHeader} {
		if v := h.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := r.o.HTTPClient().Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
