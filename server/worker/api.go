package worker

import (
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// OpusCodec is the codec a worker negotiates (RFC 7587), beside RED of it
// (REDCodec) where rtc.red is on.
var OpusCodec = webrtc.RTPCodecCapability{
	MimeType:    webrtc.MimeTypeOpus,
	ClockRate:   48000,
	Channels:    2,
	SDPFmtpLine: "minptime=10;useinbandfec=1",
}

const opusPayloadType = 111

// REDCodec is Opus with redundancy (RFC 2198; red.go): its blocks are Opus
// (fmtp 111/111, what Chromium offers). pion matches an answer's RED
// whatever number it gives Opus, and maps payload types per transport.
var REDCodec = webrtc.RTPCodecCapability{
	MimeType:    "audio/red",
	ClockRate:   48000,
	Channels:    2,
	SDPFmtpLine: "111/111",
}

// iceTiming is when the worker checks its transports' consent and when pion
// gives up on them. The worker checks consent itself (consentKeeper; pion's
// agent sends no keepalives) and passes each answer on to pion as a sign of
// life.
type iceTiming struct {
	consentInterval time.Duration
	disconnected    time.Duration // at least 2 × consentInterval (see consentKeeper.confirm)
	failed          time.Duration // after disconnected
}

// defaultICETiming: a check every 5 s (RFC 7675 §5.1), "disconnected" after two
// in a row go unanswered, "failed" 30 s after the last answer (rtc.ice_failed_after),
// RFC 7675's consent timeout.
var defaultICETiming = iceTiming{consentInterval: 5 * time.Second, disconnected: 10 * time.Second, failed: 20 * time.Second}

// withFailedAfter is t failing a transport after its peer was silent for
// failedAfter in all (0 keeps t's), never before it is disconnected.
func (t iceTiming) withFailedAfter(failedAfter time.Duration) iceTiming {
	if failedAfter > 0 {
		t.failed = max(failedAfter-t.disconnected, t.consentInterval)
	}
	return t
}

// failedAfter is how long a transport's peer may stay silent: pion fails the
// agent after disconnected + failed, and a join still checking after as long.
func (t iceTiming) failedAfter() time.Duration { return t.disconnected + t.failed }

// iceCheckInterval is how often pion's agent checks a candidate pair while it
// connects (its defaultCheckInterval; the SettingEngine does not set it).
const iceCheckInterval = 200 * time.Millisecond

// maxChecks is how many checks pion sends on one candidate pair before it
// marks the pair failed: as many as fit in failedAfter, so that a pair is
// checked as long as the join may take.
//
// Why: at pion's default (7, 1.6 s) a pair whose first checks were lost (a
// firewall that opens late, a busy path) was failed for good; pion answers
// the peer's later checks but sends no triggered check of its own for a
// failed pair (RFC 8445 §7.3.1.4), so the worker, which controls, never
// nominated and the join timed out. Checking until failedAfter, it nominates
// within one check interval of the path working.
//
// Why not ICE-lite (RFC 8445 §2.5, as mediasoup and Janus): a pion answerer
// facing a lite offerer takes the DTLS server role whatever the offer says
// (webrtc PeerConnection.CreateAnswer), which makes the worker the DTLS
// client, whose keys dtlsKeyCatcher cannot learn: every pion client (the Go
// client, loadgen) would lose the worker's own write path and ingress. And a
// pion client, full ICE with the same 7-check limit, would still give up on
// its side.
func (t iceTiming) maxChecks() uint16 {
	return uint16(min(t.failedAfter()/iceCheckInterval, 1<<16-1))
}

// How long the worker, which nominates, waits after checks start before it
// nominates a working pair whose peer side is peer-reflexive or relayed: a
// moment for a better pair to work too, not pion's 1 s and 2 s. Every ICE/TCP
// pair is peer-reflexive here (a client's active TCP candidate names no port,
// RFC 6544 §4.5; the worker learns the port from its checks), and so is a
// browser's hidden behind mDNS (rtc.mdns off), so pion's wait was a second
// added to each such join; a relayed one (TURN) is a client whose direct
// paths do not work, which checks one round trip earlier would have shown.
const (
	prflxAcceptanceWait = iceCheckInterval
	relayAcceptanceWait = 500 * time.Millisecond
)

// ipFilter keeps the addresses the settings allow.
func ipFilter(p ipc.InitParams) func(net.IP) bool {
	return func(ip net.IP) bool {
		if len(p.IPs) > 0 && !slices.ContainsFunc(p.IPs, func(s string) bool { return net.ParseIP(s).Equal(ip) }) {
			return false
		}
		if ip.IsLoopback() {
			return p.Loopback
		}
		return ip.To4() != nil
	}
}

func interfaceFilter(p ipc.InitParams) func(string) bool {
	return func(name string) bool {
		return len(p.Interfaces) == 0 || slices.Contains(p.Interfaces, name)
	}
}

// listenMux opens the worker's one UDP port on every allowed interface address,
// through sockets so the forwarding path can write to the same sockets.
func listenMux(p ipc.InitParams, sockets *mediaSockets) (*ice.MultiUDPMuxDefault, error) {
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithInterfaceFilter(interfaceFilter(p)),
		ice.UDPMuxFromPortWithIPFilter(ipFilter(p)),
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
		ice.UDPMuxFromPortWithReadBufferSize(4 << 20),
		ice.UDPMuxFromPortWithWriteBufferSize(4 << 20),
		ice.UDPMuxFromPortWithNet(sockets),
	}
	if p.Loopback {
		opts = append(opts, ice.UDPMuxFromPortWithLoopback())
	}
	mux, err := ice.NewMultiUDPMuxFromPort(p.Port, opts...)
	if err != nil {
		return nil, fmt.Errorf("listen udp port %d: %w", p.Port, err)
	}
	if len(mux.GetListenAddresses()) == 0 {
		_ = mux.Close()
		return nil, fmt.Errorf("listen udp port %d: no interface address allowed by rtc.interfaces/rtc.loopback", p.Port)
	}
	return mux, nil
}

// mediaAPI builds the pion API of each transport: Opus only (with generic
// NACK feedback, RFC 4585, unless rtc.nack is off), the RFC 6464
// audio-level header extension, no interceptors (the worker writes its own RTCP
// reports, see senderreport.go and receiverreport.go), ICE over the worker's
// mux. Each transport
// gets its own API because the DTLS hooks that catch its SRTP keys are per API.
type mediaAPI struct {
	params  ipc.InitParams
	mux     ice.UDPMux
	tcpMux  ice.TCPMux // nil: UDP only
	sockets *mediaSockets
	engine  *webrtc.MediaEngine
	reports *interceptor.Registry
	cert    dtlsCertificate
	timing  iceTiming
}

func newMediaAPI(p ipc.InitParams, mux ice.UDPMux, sockets *mediaSockets) (*mediaAPI, error) {
	m := &webrtc.MediaEngine{}
	// RED first where it is on: libwebrtc sends with the first codec of its
	// answer, which keeps the offer's order. Both carry generic NACK (RFC 4585)
	// unless rtc.nack is off: a RED publisher's packets are NACKed and re-sent
	// like Opus ones.
	if p.RED {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: withNACK(REDCodec, !p.NoNACK), PayloadType: redPayloadType}, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: withNACK(OpusCodec, !p.NoNACK), PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	// No interceptors: the worker writes its RTCP reports itself (senderreport.go,
	// receiverreport.go). An empty registry, not nil, which would mean pion's
	// defaults.
	ir := &interceptor.Registry{}
	return &mediaAPI{params: p, mux: mux, sockets: sockets, engine: m, reports: ir, timing: defaultICETiming.withFailedAfter(p.ICEFailedAfter)}, nil
}

// forTransport returns an API whose DTLS handshakes report their keys to keys.
func (a *mediaAPI) forTransport(keys *dtlsKeyCatcher) *webrtc.API {
	p := a.params
	s := webrtc.SettingEngine{}
	s.SetICEUDPMux(a.mux)
	if a.tcpMux != nil {
		s.SetICETCPMux(a.tcpMux)
		s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	} else {
		s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	s.SetInterfaceFilter(interfaceFilter(p))
	s.SetIPFilter(ipFilter(p))
	s.SetIncludeLoopbackCandidate(p.Loopback)
	s.SetICETimeouts(a.timing.disconnected, a.timing.failed, 0)
	s.SetICEMaxBindingRequests(a.timing.maxChecks())
	s.SetPrflxAcceptanceMinWait(prflxAcceptanceWait)
	s.SetRelayAcceptanceMinWait(relayAcceptanceWait)
	if p.MDNS {
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeQueryAndGather)
	} else {
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if p.AnnouncedIP != "" {
		s.SetNAT1To1IPs([]string{p.AnnouncedIP}, webrtc.ICECandidateTypeHost)
	}
	// A publisher's track opens as soon as its receiver starts, not on its
	// first packet: pion reads that packet to learn the codec, and a payload
	// type outside the answer (Chromium sends with the offer's first codec,
	// RED, for a moment while it applies a re-offer, even where its answer
	// kept Opus alone) made it give the track up for good; the publisher was
	// never heard. The worker takes the codecs from the answer
	// (newLocalProducer) and drops such packets (producer.readTrack).
	s.SetFireOnTrackBeforeFirstRTP(true)
	if keys != nil {
		s.SetDTLSServerHelloMessageHook(keys.serverHello)
		s.SetDTLSKeyLogWriter(keys)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(a.engine), webrtc.WithInterceptorRegistry(a.reports), webrtc.WithSettingEngine(s))
}
