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

// OpusCodec is the only codec a worker negotiates (RFC 7587).
var OpusCodec = webrtc.RTPCodecCapability{
	MimeType:    webrtc.MimeTypeOpus,
	ClockRate:   48000,
	Channels:    2,
	SDPFmtpLine: "minptime=10;useinbandfec=1",
}

const opusPayloadType = 111

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
// in a row go unanswered, "failed" 30 s after the last answer, RFC 7675's
// consent timeout.
var defaultICETiming = iceTiming{consentInterval: 5 * time.Second, disconnected: 10 * time.Second, failed: 20 * time.Second}

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

// mediaAPI builds the pion API of each transport: Opus only, the RFC 6464
// audio-level header extension, no interceptors (the worker writes its own RTCP
// reports, see senderreport.go and receiverreport.go), ICE over the worker's
// mux. Each transport
// gets its own API because the DTLS hooks that catch its SRTP keys are per API.
type mediaAPI struct {
	params  ipc.InitParams
	mux     ice.UDPMux
	sockets *mediaSockets
	engine  *webrtc.MediaEngine
	reports *interceptor.Registry
	cert    dtlsCertificate
	timing  iceTiming
}

func newMediaAPI(p ipc.InitParams, mux ice.UDPMux, sockets *mediaSockets) (*mediaAPI, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: OpusCodec, PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	// No interceptors: the worker writes its RTCP reports itself (senderreport.go,
	// receiverreport.go). An empty registry, not nil, which would mean pion's
	// defaults.
	ir := &interceptor.Registry{}
	return &mediaAPI{params: p, mux: mux, sockets: sockets, engine: m, reports: ir, timing: defaultICETiming}, nil
}

// forTransport returns an API whose DTLS handshakes report their keys to keys.
func (a *mediaAPI) forTransport(keys *dtlsKeyCatcher) *webrtc.API {
	p := a.params
	s := webrtc.SettingEngine{}
	s.SetICEUDPMux(a.mux)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetInterfaceFilter(interfaceFilter(p))
	s.SetIPFilter(ipFilter(p))
	s.SetIncludeLoopbackCandidate(p.Loopback)
	s.SetICETimeouts(a.timing.disconnected, a.timing.failed, 0)
	if p.MDNS {
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeQueryAndGather)
	} else {
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if p.AnnouncedIP != "" {
		s.SetNAT1To1IPs([]string{p.AnnouncedIP}, webrtc.ICECandidateTypeHost)
	}
	if keys != nil {
		s.SetDTLSServerHelloMessageHook(keys.serverHello)
		s.SetDTLSKeyLogWriter(keys)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(a.engine), webrtc.WithInterceptorRegistry(a.reports), webrtc.WithSettingEngine(s))
}
