package ipc

import (
	"time"

	"github.com/voicectl/voicectl/server/wire"
)

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
	MethodTransportICE    = "transport.restart_ice"
	MethodConsumerCreate  = "consumer.create"
	MethodConsumerClose   = "consumer.close"
	MethodProducerPause   = "producer.pause"
	MethodPipeCreate      = "pipe.create"
	MethodPipeConnect     = "pipe.connect"
	MethodPipeConsume     = "pipe.consume"
	MethodPipeUnconsume   = "pipe.unconsume"
	MethodPipeProduce     = "pipe.produce"
	MethodPipeUnproduce   = "pipe.unproduce"
	MethodPipeClose       = "pipe.close"
)

// Events from a worker to control.
const (
	EventReady          = "worker.ready"
	EventOffer          = "transport.offer"
	EventCandidate      = "transport.candidate"
	EventTransportState = "transport.state"
	EventTransportPath  = "transport.path"
	EventQuality        = "transport.quality"
	EventProducerNew    = "producer.new"
	EventProducerClosed = "producer.closed"
	EventSpeakers       = "router.speakers"
)

// Error codes a worker returns; those a client also meets are the wire's.
const (
	CodeNotFound = wire.CodeNotFound
	CodeBadSDP   = wire.CodeBadSDP
	CodeBadCand  = wire.CodeBadCandidate
	CodeExists   = wire.Code("exists")
	// CodeCancelled: the caller's deadline passed or it cancelled; the work
	// was not done (or was undone).
	CodeCancelled     = wire.Code("cancelled")
	CodeBadRequest    = wire.CodeBadRequest
	CodeUnknownMethod = wire.Code("unknown_method")
	CodeInternal      = wire.CodeInternal
	// CodeNotReady: the worker was not initialised yet.
	CodeNotReady = wire.Code("not_ready")
	// CodeNotConnected: a pipe has no remote address yet.
	CodeNotConnected = wire.Code("not_connected")
)

// InitParams configures a worker; sent once, first.
type InitParams struct {
	Index       int      `json:"index"`
	Port        int      `json:"port"`
	Interfaces  []string `json:"interfaces,omitempty"`
	MDNS        bool     `json:"mdns"`
	AnnouncedIP string   `json:"announced_ip,omitempty"`
	Loopback    bool     `json:"loopback"`
	// IPs allow-lists the local addresses to listen on (rtc.ips).
	IPs []string `json:"ips,omitempty"`
	// ICEFailedAfter (nanoseconds; rtc.ice_failed_after) is how long a
	// transport hears nothing from its peer before it fails; 0 is the
	// worker's default.
	ICEFailedAfter time.Duration `json:"ice_failed_after,omitempty"`
	// TCPPort is the worker's ICE-TCP port (rtc.tcp_port); 0: no ICE over TCP.
	TCPPort int `json:"tcp_port,omitempty"`
	// RED offers Opus with redundancy (RFC 2198, rtc.red) beside Opus.
	RED bool `json:"red,omitempty"`
	// NoNACK turns generic NACK on audio off (rtc.nack false): the worker
	// offers no a=rtcp-fb nack, re-sends nothing and asks for nothing.
	NoNACK bool `json:"no_nack,omitempty"`
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

// RouterCreate opens a router for a room on a worker.
type RouterCreate struct {
	RouterID string `json:"router_id"`
	// MaxForwardedSpeakers > 0 forwards only the N loudest producers to consumers.
	MaxForwardedSpeakers int `json:"max_forwarded_speakers,omitempty"`
}

// PipeCreate opens one end of a pipe on a router, listening on ListenIP.
type PipeCreate struct {
	PipeID   string `json:"pipe_id"`
	RouterID string `json:"router_id"`
	ListenIP string `json:"listen_ip"`
}

// PipeCreated reports the end's local address, to be sent to the other end.
type PipeCreated struct {
	LocalAddr string `json:"local_addr"`
}

// PipeSRTP holds base64 SRTP master keys (16-byte key + 14-byte salt,
// AES_CM_128_HMAC_SHA1_80), one per direction.
type PipeSRTP struct {
	SendKey string `json:"send_key"`
	RecvKey string `json:"recv_key"`
}

// PipeConnect tells one end where the other end is.
type PipeConnect struct {
	PipeID     string    `json:"pipe_id"`
	RemoteAddr string    `json:"remote_addr"`
	SRTP       *PipeSRTP `json:"srtp,omitempty"`
}

// PipeFlow maps one producer to an SSRC on a pipe: pipe.consume on the producer's
// end sends it, pipe.produce on the other end turns it back into the producer.
type PipeFlow struct {
	PipeID     string `json:"pipe_id"`
	ProducerID string `json:"producer_id"`
	SSRC       uint32 `json:"ssrc"`
	LevelExtID uint8  `json:"level_ext_id,omitempty"`
	Paused     bool   `json:"paused,omitempty"`
}

// PipeRef names a pipe end.
type PipeRef struct {
	PipeID string `json:"pipe_id"`
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
	TransportID string    `json:"transport_id"`
	State       ConnState `json:"state"`
}

// Path is how a transport's selected ICE candidate pair reaches its peer, as
// the worker sees it. A relay is a TURN server's relayed address: control
// tells which (turn/udp, turn/tcp, turn/tls) from its TURN allocations.
type Path string

// The paths a worker reports.
const (
	PathUDP   Path = "udp"   // a direct UDP pair
	PathTCP   Path = "tcp"   // ICE over TCP (RFC 6544), framed as RFC 4571
	PathRelay Path = "relay" // the peer's candidate is a TURN relayed address (RFC 8656)
)

// TransportPath reports a transport's selected candidate pair: on connect and
// whenever ICE (a restart, a new network) moves it.
type TransportPath struct {
	TransportID string `json:"transport_id"`
	Path        Path   `json:"path"`
	// Remote is the peer's address of the pair (ip:port).
	Remote string `json:"remote"`
}

// The connection quality levels a worker reports (TransportQuality.Level),
// best first; wire.PeerQuality carries them to clients as they are.
const (
	QualityExcellent = "excellent"
	QualityGood      = "good"
	QualityPoor      = "poor"
	// QualityLost: nothing arrived from the peer for a while (its media or
	// its reports); Score is 0.
	QualityLost = "lost"
)

// The upper bounds of Load's connection quality histograms.
var (
	QualityScoreBounds = []float64{20, 40, 60, 70, 80, 85, 90, 95}
	QualityLossBounds  = []float64{0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5}
)

// TransportQuality is a transport's connection quality over the worker's
// last measuring interval: the loss, jitter and round-trip time it saw, and
// the score (0-100) and level a simplified E-model (ITU-T G.107) makes of
// them (server/worker/quality.go). A worker reports a transport when its
// level changes, when its score moves by a few points, and every few
// intervals otherwise.
type TransportQuality struct {
	TransportID string `json:"transport_id"`
	Score       int    `json:"score"`
	Level       string `json:"level"`
	// Loss is the fraction of packets lost, 0..1: the worst of what the
	// peer's listener reports (RFC 3550 §6.4.2) and of what its own stream
	// lost on the way in.
	Loss     float64 `json:"loss"`
	JitterMs float64 `json:"jitter_ms"`
	// RTTMs is the round-trip time from the peer's receiver reports
	// (LSR/DLSR, RFC 3550 §6.4.1), 0 when unknown.
	RTTMs float64 `json:"rtt_ms"`
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
	LevelExtID  uint8  `json:"level_ext_id,omitempty"`
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
	Routers    int `json:"routers"`
	Transports int `json:"transports"`
	Producers  int `json:"producers"`
	Consumers  int `json:"consumers"`
	// Pipes is the number of pipe transport ends; PipeConsumers counts producers
	// sent through them and PipeProducers those received (also counted in Producers).
	Pipes         int    `json:"pipes"`
	PipeConsumers int    `json:"pipe_consumers"`
	PipeProducers int    `json:"pipe_producers"`
	PacketsIn     uint64 `json:"packets_in"`
	PacketsOut    uint64 `json:"packets_out"`
	BytesIn       uint64 `json:"bytes_in"`
	BytesOut      uint64 `json:"bytes_out"`
	// RTCPPacketsLost adds up the losses listeners report in RTCP receiver reports
	// (RFC 3550 6.4.2); RTCPJitterSeconds is the mean of their latest jitter.
	RTCPPacketsLost   uint64  `json:"rtcp_packets_lost"`
	RTCPJitterSeconds float64 `json:"rtcp_jitter_seconds"`
	// ForwardDelayMs* are quantiles of the time from a packet's arrival at the
	// worker to its last copy written to a listener, since the worker started.
	ForwardDelayMsP50 float64 `json:"forward_delay_ms_p50"`
	ForwardDelayMsP99 float64 `json:"forward_delay_ms_p99"`
	// ForwardDelayBuckets is their histogram (wire.AdminWorker.ForwardDelayBuckets).
	ForwardDelayBuckets []uint64 `json:"forward_delay_buckets,omitempty"`
	// QualityScoreBuckets count the connection quality scores the worker
	// measured (one a transport per interval, lost ones left out) since it
	// started: bucket i counts scores up to QualityScoreBounds[i], the last
	// those above them all; QualityScoreSum adds them up. QualityLoss* are the
	// same for the loss fractions, on QualityLossBounds.
	QualityScoreBuckets []uint64 `json:"quality_score_buckets,omitempty"`
	QualityScoreSum     float64  `json:"quality_score_sum,omitempty"`
	QualityLossBuckets  []uint64 `json:"quality_loss_buckets,omitempty"`
	QualityLossSum      float64  `json:"quality_loss_sum,omitempty"`
	// HeapAllocs counts heap objects the worker allocated since it started.
	HeapAllocs uint64 `json:"heap_allocs"`
	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heap_bytes"` // live and not yet swept heap objects
	// ConsentAnswered counts peers' ICE consent checks (RFC 7675) the worker's
	// sockets answered themselves, ConsentConfirmed the worker's own checks that
	// peers answered.
	ConsentAnswered  uint64 `json:"ice_consent_answered"`
	ConsentConfirmed uint64 `json:"ice_consent_confirmed"`
	// IngressRTP counts publishers' RTP packets the worker's sockets decrypted
	// and forwarded without pion, IngressRejected those they dropped as replays
	// or forgeries, IngressDropped those they dropped because the stream's
	// fan-outs were too far behind.
	IngressRTP      uint64 `json:"ingress_rtp"`
	IngressRejected uint64 `json:"ingress_rejected"`
	IngressDropped  uint64 `json:"ingress_dropped"`
	// REDMalformed counts publishers' RED packets (RFC 2198) dropped because
	// their block headers or lengths did not fit the packet.
	REDMalformed uint64 `json:"red_malformed"`
	// NACKsReceived counts the packets listeners asked for again in generic
	// NACKs (RFC 4585), Retransmits the packets re-sent to them,
	// RetransmitsRefused those refused by the limits (2 per packet and
	// listener, a rate per listener), RetransmitsMissing those no longer (or
	// never) in the history; NACKsSent counts the packets the worker asked
	// publishers for.
	NACKsReceived      uint64 `json:"nacks_received"`
	Retransmits        uint64 `json:"retransmits"`
	RetransmitsRefused uint64 `json:"retransmits_refused"`
	RetransmitsMissing uint64 `json:"retransmits_missing"`
	NACKsSent          uint64 `json:"nacks_sent"`
	// PipeStats is each pipe end's traffic, for the per-server pipe metrics.
	PipeStats []PipeStat `json:"pipe_stats,omitempty"`
}

// PipeStat is one pipe end's traffic since it opened. Rejected counts
// packets dropped because they failed SRTP authentication (a wrong key, or
// forged) or did not parse.
type PipeStat struct {
	PipeID     string `json:"pipe_id"`
	SRTP       bool   `json:"srtp,omitempty"`
	Outs       int    `json:"outs"`      // producers sent through it
	Producers  int    `json:"producers"` // producers received through it
	PacketsOut uint64 `json:"packets_out"`
	BytesOut   uint64 `json:"bytes_out"`
	PacketsIn  uint64 `json:"packets_in"`
	BytesIn    uint64 `json:"bytes_in"`
	Rejected   uint64 `json:"rejected"`
}
