package worker

import (
	"fmt"
	"net"
	"slices"

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

// ipFilter keeps the addresses the settings allow.
func ipFilter(p ipc.InitParams) func(net.IP) bool {
	return func(ip net.IP) bool {
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

// listenMux opens the worker's one UDP port on every allowed interface address.
func listenMux(p ipc.InitParams) (*ice.MultiUDPMuxDefault, error) {
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithInterfaceFilter(interfaceFilter(p)),
		ice.UDPMuxFromPortWithIPFilter(ipFilter(p)),
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
		ice.UDPMuxFromPortWithReadBufferSize(4 << 20),
		ice.UDPMuxFromPortWithWriteBufferSize(4 << 20),
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

// newAPI builds the pion API every transport of this worker shares: Opus only, the
// RFC 6464 audio-level header extension, RTCP reports, ICE over the worker's mux.
func newAPI(p ipc.InitParams, mux ice.UDPMux) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: OpusCodec, PayloadType: opusPayloadType}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	s := webrtc.SettingEngine{}
	s.SetICEUDPMux(mux)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetInterfaceFilter(interfaceFilter(p))
	s.SetIPFilter(ipFilter(p))
	s.SetIncludeLoopbackCandidate(p.Loopback)
	if p.MDNS {
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeQueryAndGather)
	} else {
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if p.AnnouncedIP != "" {
		s.SetNAT1To1IPs([]string{p.AnnouncedIP}, webrtc.ICECandidateTypeHost)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(s)), nil
}
