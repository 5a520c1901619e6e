package ipc

import "github.com/voicectl/voicectl/server/wire"

// Requests from control to a worker.
const (
	MethodInit            = "worker.init"
	MethodLoad            = "worker.load"
	MethodRouterCreate    = "router.create"
	MethodRouterClose     = "router.close"
	MethodTransportCreate = "transport.create"
	MethodTransportAnswer = "transport.answer"
	MethodTransportCand   = "transport.candidate"
	MethodTransportClose  = "transport.close"
	MethodConsumerCreate  = "consumer.create"
	MethodConsumerClose   = "consumer.close"
	MethodProducerPause   = "producer.pause"
)

// Events from a worker to control.
const (
	EventReady          = "worker.ready"
	EventOffer          = "transport.offer"
	EventCandidate      = "transport.candidate"
	EventTransportState = "transport.state"
	EventProducerNew    = "producer.new"
	EventProducerClosed = "producer.closed"
	EventSpeakers       = "router.speakers"
)

// Error codes a worker returns.
const (
	CodeNotFound = "not_found"
	CodeBadSDP   = "bad_sdp"
	CodeBadCand  = "bad_candidate"
	CodeExists   = "exists"
)

// InitParams configures a worker; sent once, first.
type InitParams struct {
	Index       int      `json:"index"`
	Port        int      `json:"port"`
	Interfaces  []string `json:"interfaces,omitempty"`
	MDNS        bool     `json:"mdns"`
	AnnouncedIP string   `json:"announced_ip,omitempty"`
	Loopback    bool     `json:"loopback"`
}

// Ready is sent once the worker listens.
type Ready struct {
	Index int `json:"index"`
	PID   int `json:"pid"`
}

// RouterRef names a router.
type RouterRef struct {
	RouterID string `json:"router_id"`
}

// TransportCreate opens a peer's WebRTC transport on a router. When ProducerID is
// set the transport accepts one incoming audio track, which becomes that producer.
type TransportCreate struct {
	RouterID    string `json:"router_id"`
	TransportID string `json:"transport_id"`
	ProducerID  string `json:"producer_id,omitempty"`
}

// TransportRef names a transport.
type TransportRef struct {
	TransportID string `json:"transport_id"`
}

// SDP carries an offer (event) or an answer (request) for a transport.
type SDP struct {
	TransportID string `json:"transport_id"`
	SDP         string `json:"sdp"`
}

// Candidate carries a trickled ICE candidate for a transport.
type Candidate struct {
	TransportID string            `json:"transport_id"`
	Candidate   wire.ICECandidate `json:"candidate"`
}

// TransportState reports a transport's connection state.
type TransportState struct {
	TransportID string `json:"transport_id"`
	State       string `json:"state"`
}

// ConsumerRef asks a transport to receive (or stop receiving) a producer of its router.
type ConsumerRef struct {
	TransportID string `json:"transport_id"`
	ProducerID  string `json:"producer_id"`
	// StreamID is the msid stream id the client sees: the producing peer's id.
	StreamID string `json:"stream_id,omitempty"`
}

// ProducerPause pauses or resumes forwarding of a producer.
type ProducerPause struct {
	ProducerID string `json:"producer_id"`
	Paused     bool   `json:"paused"`
}

// ProducerEvent reports a producer starting or ending on a router.
type ProducerEvent struct {
	RouterID    string `json:"router_id"`
	TransportID string `json:"transport_id"`
	ProducerID  string `json:"producer_id"`
}

// SpeakerLevel is one producer's recent level, 0 (silent) to 127 (loudest).
type SpeakerLevel struct {
	ProducerID string `json:"producer_id"`
	Level      int    `json:"level"`
}

// Speakers reports a router's active speakers, loudest first.
type Speakers struct {
	RouterID string         `json:"router_id"`
	Speakers []SpeakerLevel `json:"speakers"`
}

// Load is a worker's live load.
type Load struct {
	Routers    int    `json:"routers"`
	Transports int    `json:"transports"`
	Producers  int    `json:"producers"`
	Consumers  int    `json:"consumers"`
	PacketsIn  uint64 `json:"packets_in"`
	PacketsOut uint64 `json:"packets_out"`
}
