// Package wire holds the JSON types that cross process boundaries: the WebSocket
// signalling protocol spoken by browsers and SDK clients (docs/signalling.md). It
// imports nothing from the SFU so that clients, admin tools and the load generator
// can share it.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Message types sent by clients.
const (
	TypeJoin      = "join"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeMute      = "mute"
	TypeLeave     = "leave"
	TypePing      = "ping"
	// TypeRestartICE asks for an ICE-restart offer; TypeResume takes a
	// detached session back (resume.go).
	TypeRestartICE = "restart_ice"
	TypeResume     = "resume"
)

// Message types sent by the server.
const (
	TypeJoined          = "joined"
	TypeOffer           = "offer"
	TypePeerJoined      = "peer_joined"
	TypePeerLeft        = "peer_left"
	TypeProducerAdded   = "producer_added"
	TypeProducerRemoved = "producer_removed"
	TypePeerMuted       = "peer_muted"
	TypeActiveSpeakers  = "active_speakers"
	TypeQuality         = "connection_quality"
	TypeReconnect       = "reconnect"
	TypeMove            = "move"
	TypeError           = "error"
	TypePong            = "pong"
	TypeResumed         = "resumed"
)

// Envelope is the part every message shares.
type Envelope struct {
	Type string `json:"type"`
	// ID is an optional client-chosen request id echoed in errors about that request.
	ID string `json:"id,omitempty"`
	// Seq numbers every message after joined, per direction, from 1
	// (docs/signalling.md, resuming); 0 (absent) before it and from old clients.
	Seq uint64 `json:"seq,omitempty"`
}

// Head is the envelope of any message that embeds one, so a reader of a
// parsed message gets its type, id and seq without a type switch.
func (e *Envelope) Head() *Envelope { return e }

// Join asks to enter the room named in the token. Publish=false joins as a listener
// even when the token allows publishing.
type Join struct {
	Envelope
	Publish *bool `json:"publish,omitempty"`
}

// SessionDescription carries an SDP offer or answer (RFC 8866, JSEP RFC 8829).
type SessionDescription struct {
	Envelope
	SDP string `json:"sdp"`
}

// ICECandidate is one trickled candidate (RFC 8838), shaped like RTCIceCandidateInit.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Candidate trickles one ICE candidate in either direction.
type Candidate struct {
	Envelope
	Candidate ICECandidate `json:"candidate"`
}

// Mute pauses or resumes the sender's microphone producer.
type Mute struct {
	Envelope
	Muted bool `json:"muted"`
}

// PeerInfo describes one peer in a room.
type PeerInfo struct {
	ID         string `json:"id"`
	Identity   string `json:"identity"`
	Publishing bool   `json:"publishing"`
	Muted      bool   `json:"muted"`
	ProducerID string `json:"producer_id,omitempty"`
}

// Joined answers a join.
type Joined struct {
	Envelope
	Room   string     `json:"room"`
	PeerID string     `json:"peer_id"`
	Peers  []PeerInfo `json:"peers"`
	// ICEServers are the STUN/TURN servers the client gives its
	// RTCPeerConnection: the embedded TURN server with credentials for this
	// peer, then any from rtc.ice_servers.
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
	// ResumeToken takes the session back on a new WebSocket (Resume).
	ResumeToken string `json:"resume_token,omitempty"`
}

// ICEServer is one STUN or TURN server, shaped like RTCIceServer (W3C
// WebRTC §4.2.4): TURN credentials are time-limited (docs/signalling.md).
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// PeerEvent announces a peer joining.
type PeerEvent struct {
	Envelope
	Peer PeerInfo `json:"peer"`
}

// PeerLeft announces a peer leaving.
type PeerLeft struct {
	Envelope
	PeerID string `json:"peer_id"`
}

// ProducerEvent announces a producer added or removed. Its stream id in the SDP
// (msid) is the peer id and its track id is the producer id.
type ProducerEvent struct {
	Envelope
	ProducerID string `json:"producer_id"`
	PeerID     string `json:"peer_id"`
}

// PeerMuted announces a peer's mute state.
type PeerMuted struct {
	Envelope
	PeerID string `json:"peer_id"`
	Muted  bool   `json:"muted"`
}

// Speaker is one active speaker; Level is 0 (silence) to 127 (loudest), the inverse
// of the RFC 6464 -dBov value.
type Speaker struct {
	PeerID string `json:"peer_id"`
	Level  int    `json:"level"`
	// Identity is filled in admin API answers only.
	Identity string `json:"identity,omitempty"`
}

// ActiveSpeakers lists who is speaking now, loudest first.
type ActiveSpeakers struct {
	Envelope
	Speakers []Speaker `json:"speakers"`
}

// The connection quality levels (PeerQuality.Level), best first.
const (
	QualityExcellent = "excellent"
	QualityGood      = "good"
	QualityPoor      = "poor"
	QualityLost      = "lost" // nothing arrived from the peer for 8 s
)

// PeerQuality is one peer's connection quality: Score 0-100 from a
// simplified E-model (ITU-T G.107) over the loss, jitter and round-trip time
// the server measures on its connection, and its Level (docs/signalling.md).
type PeerQuality struct {
	PeerID string `json:"peer_id"`
	Level  string `json:"level"`
	Score  int    `json:"score"`
}

// ConnectionQuality carries peers' connection quality: the peers whose level
// changed, or every peer of the room every few seconds.
type ConnectionQuality struct {
	Envelope
	Peers []PeerQuality `json:"peers"`
}

// ReconnectReason says why a server tells a client to reconnect. It crosses
// the protocol as Reconnect.Reason, a plain string, so clients that know
// none of them still reconnect.
type ReconnectReason string

// The reasons a server sends.
const (
	// ReconnectICEFailed: the client's media (ICE) failed.
	ReconnectICEFailed ReconnectReason = "ice_failed"
	// ReconnectWorkerRestarted: the worker that carried its media died.
	ReconnectWorkerRestarted ReconnectReason = "worker_restarted"
	// ReconnectServerShutdown: the server is stopping.
	ReconnectServerShutdown ReconnectReason = "server_shutdown"
	// ReconnectMoved: its room moved, or this server gave it up; the
	// client asks the API where it is now.
	ReconnectMoved ReconnectReason = "moved"
)

// Reconnect tells the client to drop its session and join again after DelayMS.
type Reconnect struct {
	Envelope
	Reason  string `json:"reason"`
	DelayMS int    `json:"delay_ms"`
}

// Move tells the client its room moved to another server: join there, at
// URL, with Token (same room, identity and rights), now. The old server
// keeps this session (its media too) until the client leaves it, or for
// cluster.move_grace: a client may join the new home first, then leave.
type Move struct {
	Envelope
	URL    string `json:"url"`
	Token  string `json:"token"`
	Server string `json:"server,omitempty"` // the new home's server id
}

// Error reports a failed request with a stable code (see codes.go).
type Error struct {
	Envelope
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Fatal means the server closes the connection after this message.
	Fatal bool `json:"fatal,omitempty"`
}

// ErrMalformed wraps every parse failure.
var ErrMalformed = errors.New("malformed message")

// ParseClient decodes one client message and returns a pointer to its typed struct.
func ParseClient(data []byte) (any, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, describeJSON(err))
	}
	var msg any
	switch env.Type {
	case TypeJoin:
		msg = &Join{}
	case TypeAnswer:
		msg = &SessionDescription{}
	case TypeCandidate:
		msg = &Candidate{}
	case TypeMute:
		msg = &Mute{}
	case TypeLeave, TypePing, TypeRestartICE:
		msg = &Envelope{}
	case TypeResume:
		msg = &Resume{}
	case "":
		return nil, fmt.Errorf("%w: missing \"type\"", ErrMalformed)
	default:
		return nil, &UnknownTypeError{Type: env.Type}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(msg); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrMalformed, env.Type, describeJSON(err))
	}
	switch m := msg.(type) {
	case *SessionDescription:
		if m.SDP == "" {
			return nil, fmt.Errorf("%w: answer: empty \"sdp\"", ErrMalformed)
		}
	case *Candidate:
		if m.Candidate.Candidate == "" && m.Candidate.SDPMid == nil && m.Candidate.SDPMLineIndex == nil {
			return nil, fmt.Errorf("%w: candidate: empty \"candidate\"", ErrMalformed)
		}
	case *Mute:
		// A missing "muted" is no unmute: it is refused.
		var has struct {
			Muted *bool `json:"muted"`
		}
		if err := json.Unmarshal(data, &has); err != nil || has.Muted == nil {
			return nil, fmt.Errorf("%w: mute: missing \"muted\"", ErrMalformed)
		}
	}
	return msg, nil
}

// describeJSON says what is wrong with a message in the protocol's words,
// not the JSON decoder's.
func describeJSON(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("a %s where an object was expected", typ.Value)
		}
		return fmt.Sprintf("field %q must be a %s, not a %s", typ.Field, typ.Type.Kind(), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "not valid JSON (it ends too soon)"
	}
	if rest, ok := strings.CutPrefix(err.Error(), "json: "); ok {
		return rest // "unknown field \"x\""
	}
	return "not a valid message"
}

// UnknownTypeError is returned for a well-formed message of a type the server does not know.
type UnknownTypeError struct{ Type string }

func (e *UnknownTypeError) Error() string { return fmt.Sprintf("unknown message type %q", e.Type) }

// ParseServer decodes one server message, for clients.
func ParseServer(data []byte) (any, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var msg any
	switch env.Type {
	case TypeJoined:
		msg = &Joined{}
	case TypeOffer:
		msg = &SessionDescription{}
	case TypeCandidate:
		msg = &Candidate{}
	case TypePeerJoined:
		msg = &PeerEvent{}
	case TypePeerLeft:
		msg = &PeerLeft{}
	case TypeProducerAdded, TypeProducerRemoved:
		msg = &ProducerEvent{}
	case TypePeerMuted:
		msg = &PeerMuted{}
	case TypeActiveSpeakers:
		msg = &ActiveSpeakers{}
	case TypeQuality:
		msg = &ConnectionQuality{}
	case TypeReconnect:
		msg = &Reconnect{}
	case TypeMove:
		msg = &Move{}
	case TypeError:
		msg = &Error{}
	case TypePong:
		msg = &Envelope{}
	case TypeResumed:
		msg = &Resumed{}
	default:
		return nil, &UnknownTypeError{Type: env.Type}
	}
	if err := json.Unmarshal(data, msg); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, env.Type, err)
	}
	return msg, nil
}
