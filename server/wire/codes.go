package wire

// Code is a stable error code, sent in Error.Code and in the JSON body of
// HTTP errors. Clients may switch on them; they never change meaning.
type Code string

// The stable codes.
const (
	CodeBadRequest        Code = "bad_request"         // malformed JSON or a missing field
	CodeUnknownType       Code = "unknown_type"        // a "type" the server does not know
	CodeMessageTooLarge   Code = "message_too_large"   // larger than signal.max_message_bytes
	CodeBadSDP            Code = "bad_sdp"             // an SDP that cannot be applied
	CodeBadCandidate      Code = "bad_candidate"       // an ICE candidate that cannot be applied
	CodeUnauthorized      Code = "unauthorized"        // missing or forged token
	CodeTokenExpired      Code = "token_expired"       // expired token
	CodeNotJoined         Code = "not_joined"          // a request that needs a join first
	CodeAlreadyJoined     Code = "already_joined"      // a second join on one connection
	CodePublishNotAllowed Code = "publish_not_allowed" // mute/unmute by a listener-only token
	CodeNoCapacity        Code = "no_capacity"         // no worker can take the peer
	CodeUnavailable       Code = "unavailable"         // the server is starting or stopping
	CodeInternal          Code = "internal"            // a bug or a worker failure
	// CodeWrongServer: in a cluster, this server does not host the room (any
	// more): ask the API's join endpoint again for the room's server.
	CodeWrongServer Code = "wrong_server"
	// CodeRateLimited: HTTP 429, too many wrong keys from this address; wait
	// (Retry-After) and send the right one.
	CodeRateLimited Code = "rate_limited"
	// Limits a client meets (signal.*): too many connections from the
	// server's clients or this address (HTTP 503 or 429), no join or no
	// media this long after the offer, an answer or candidate list too big.
	CodeTooManyConnections Code = "too_many_connections"
	CodeJoinTimeout        Code = "join_timeout"
	CodeSDPTooLarge        Code = "sdp_too_large"
	CodeTooManyCandidates  Code = "too_many_candidates"
	// CodeResumeFailed: a resume with an unknown, stale or expired token,
	// or one that asks for messages no longer held; join again.
	CodeResumeFailed Code = "resume_failed"
)

// Codes lists every stable code (metrics export each from the start).
var Codes = []Code{CodeBadRequest, CodeUnknownType, CodeMessageTooLarge, CodeBadSDP, CodeBadCandidate, CodeUnauthorized,
	CodeTokenExpired, CodeNotJoined, CodeAlreadyJoined, CodePublishNotAllowed, CodeNoCapacity, CodeUnavailable, CodeInternal,
	CodeWrongServer, CodeRoomClosed, CodeKicked, CodeRateLimited, CodeTooManyConnections, CodeJoinTimeout, CodeSDPTooLarge,
	CodeTooManyCandidates, CodeResumeFailed}

// KeyAttemptsPerSecond and KeyAttemptsBurst bound wrong admin or API keys per
// remote address.
const (
	KeyAttemptsPerSecond = 2
	KeyAttemptsBurst     = 10
)

// HTTPError is the JSON body of an HTTP error response.
type HTTPError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}
