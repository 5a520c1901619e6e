package webhook

import "errors"

// Errors of Verify. Each says what a receiver should answer: all of them
// mean "do not trust this body".
var (
	// ErrNoSignature: the request carries no Voicectl-Signature header.
	ErrNoSignature = errors.New("no " + SignatureHeader + " header")
	// ErrMalformedSignature: the header is not t=<unix seconds>,v1=<hex>.
	ErrMalformedSignature = errors.New("malformed " + SignatureHeader + " header (want t=<unix seconds>,v1=<hex>)")
	// ErrForged: no v1 signature matches the body under the key (a wrong
	// key, or a body changed after it was signed).
	ErrForged = errors.New("signature does not match the body: forged, altered, or signed with another key")
	// ErrReplayed: the timestamp is outside the replay window (an old
	// request sent again, or a clock far off).
	ErrReplayed = errors.New("timestamp outside the replay window: replayed or expired")
)
