package bus

import "time"

// Outage is what a Bus that can lose its broker tells of the current loss:
// since when it has been off it (zero while connected). The API and the
// servers show it in /readyz and GET /v1/servers, so that an operator tells
// a broker outage from dead servers.
type Outage interface {
	DownSince() time.Time
}

// State is a Bus's connection as its users see it.
type State struct {
	Connected bool `json:"connected"`
	// DownSince is when the connection was lost (zero while connected).
	DownSince time.Time `json:"down_since,omitzero"`
}

// StateOf is b's connection: a Bus that does not tell (Local, in process)
// is always connected.
func StateOf(b Bus) State {
	h, ok := b.(Health)
	if !ok || h.Connected() {
		return State{Connected: true}
	}
	st := State{}
	if o, ok := b.(Outage); ok {
		st.DownSince = o.DownSince()
	}
	return st
}
