package turnserver

import "errors"

// Sentinel errors. A relay refused to a client never reaches it as an error:
// pion answers the TURN request with an error code (486, 508, 403) and the
// refusal is counted in voicectl_turn_refusals_total.
var (
	// ErrQuota: the server's or the credential's allocations are at their bound.
	ErrQuota = errors.New("turn: allocation quota reached")
	// ErrTCPRelay: an RFC 6062 TCP allocation; the workers' media is UDP.
	ErrTCPRelay = errors.New("turn: TCP relaying (RFC 6062) is not offered")
	// ErrRequestedPort: a client asked for a relayed port outside
	// turn.relay_port_min..max (EVEN-PORT, RESERVATION-TOKEN).
	ErrRequestedPort = errors.New("turn: requested relay port outside the relay port range")
	// ErrAddressFamily: the relay is IPv4 only.
	ErrAddressFamily = errors.New("turn: only IPv4 allocations are offered")
	// ErrNoSecret: credentials need a secret.
	ErrNoSecret = errors.New("turn: no secret to sign credentials with")
)
