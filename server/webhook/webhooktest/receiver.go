// Package webhooktest is a webhook receiver for tests: it checks each
// request's signature, answers 503 while told it is down, and keeps every
// arrival, repeats included, so a test can ask for each room's events in
// order of first arrival and count what came twice.
package webhooktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voicectl/voicectl/server/webhook"
)

// Receiver is an http.Handler; Start serves it on loopback.
type Receiver struct {
	key  []byte
	down atomic.Bool

	mu      sync.Mutex
	arrived []webhook.Event
	refused int // bad signatures or bodies
	turned  int // answered 503 while down
	// firstBody and firstSig are the first accepted request, as sent.
	firstBody []byte
	firstSig  string
}

// New returns a receiver that checks signatures under key.
func New(key []byte) *Receiver { return &Receiver{key: key} }

// Start serves r on 127.0.0.1 until the server is closed.
func (r *Receiver) Start() *httptest.Server { return httptest.NewServer(r) }

// SetDown makes it answer 503 (true) or take events again.
func (r *Receiver) SetDown(down bool) { r.down.Store(down) }

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down.Load() {
		r.turned++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var ev webhook.Event
	_, err := webhook.Verify(r.key, req.Header.Get(webhook.SignatureHeader), body, time.Now(), 0)
	if err != nil || json.Unmarshal(body, &ev) != nil || ev.ID == "" || req.Header.Get(webhook.EventIDHeader) != ev.ID {
		r.refused++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.firstBody == nil {
		r.firstBody, r.firstSig = body, req.Header.Get(webhook.SignatureHeader)
	}
	r.arrived = append(r.arrived, ev)
	w.WriteHeader(http.StatusNoContent)
}

// Events is the room's events (all rooms' for ""), each once, in order of
// first arrival.
func (r *Receiver) Events(room string) []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []webhook.Event
	for _, ev := range r.arrived {
		if (room == "" || ev.Room == room) && !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

// Lines is Events as "type", "type identity" or "type identity reason".
func (r *Receiver) Lines(room string) []string {
	var out []string
	for _, ev := range r.Events(room) {
		l := ev.Type
		if ev.Participant != nil {
			l += " " + ev.Participant.Identity
		}
		if ev.Reason != "" {
			l += " " + ev.Reason
		}
		out = append(out, l)
	}
	return out
}

// Stats are the arrivals, those that repeated an id, the refused ones and
// those turned away while down.
func (r *Receiver) Stats() (arrivals, repeats, refused, turned int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, ev := range r.arrived {
		if seen[ev.ID] {
			repeats++
		}
		seen[ev.ID] = true
	}
	return len(r.arrived), repeats, r.refused, r.turned
}

// First is the first accepted request's body and signature header, as sent
// (for `voicectl webhooks verify`).
func (r *Receiver) First() ([]byte, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstBody, r.firstSig
}
