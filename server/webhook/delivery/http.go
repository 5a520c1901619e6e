package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/voicectl/voicectl/server/webhook"
)

// HTTPParams configures an HTTP sink.
type HTTPParams struct {
	URLs []string
	Key  []byte
	// Timeout bounds one POST (webhooks.timeout).
	Timeout time.Duration
	// Client sends the requests; nil: one without redirects.
	Client *http.Client
	// Now is the clock of the signature (tests).
	Now func() time.Time
}

// HTTPSink POSTs each event, signed, to every URL; it is through when each
// answered 2xx (a retry goes only to those that have not).
type HTTPSink struct {
	p HTTPParams
}

// NewHTTPSink returns the sink.
func NewHTTPSink(p HTTPParams) *HTTPSink {
	if p.Client == nil {
		// A redirect would resend the body somewhere not configured: refused.
		p.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return &HTTPSink{p: p}
}

// Kind implements Sink.
func (s *HTTPSink) Kind() string { return "http" }

// Deliver implements Sink.
func (s *HTTPSink) Deliver(ctx context.Context, it *Item) error {
	var errs []error
	for _, u := range s.p.URLs {
		if it.accepted[u] {
			continue
		}
		if err := s.post(ctx, u, it); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		if it.accepted == nil {
			it.accepted = map[string]bool{}
		}
		it.accepted[u] = true
	}
	return errors.Join(errs...)
}

func (s *HTTPSink) post(ctx context.Context, url string, it *Item) error {
	ctx, cancel := context.WithTimeout(ctx, s.p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(it.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "voicectl-webhooks/1")
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(s.p.Key, s.p.Now(), it.Body))
	req.Header.Set(webhook.EventIDHeader, it.Event.ID)
	req.Header.Set(webhook.EventTypeHeader, it.Event.Type)
	resp, err := s.p.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: HTTP %d", ErrRefused, resp.StatusCode)
	}
	return nil
}
