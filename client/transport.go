package client

import (
	"fmt"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Transport is the one path a client lets its media take to the server, to
// test or measure that path alone (loadgen --transport). The zero value
// leaves ICE free to pick, as a browser would.
type Transport string

// The transports a client can be held to.
const (
	// TransportUDP: host UDP candidates only.
	TransportUDP Transport = "udp"
	// TransportTCP: ICE over TCP only (RFC 6544). The client gathers no
	// candidate of its own: pion dials the server's passive TCP candidates
	// from active ones it makes as they arrive.
	TransportTCP Transport = "tcp"
	// TransportTURNUDP, TransportTURNTCP and TransportTURNTLS: relayed
	// candidates only (iceTransportPolicy "relay"), through the TURN server
	// in the join answer's ice_servers, reached over UDP, TCP or TLS: the
	// Relay option (relay.go) with RelayUDP, RelayTCP or RelayTLS.
	TransportTURNUDP Transport = "turn-udp"
	TransportTURNTCP Transport = "turn-tcp"
	TransportTURNTLS Transport = "turn-tls"
)

// Transports are the values ParseTransport accepts.
var Transports = []Transport{TransportUDP, TransportTCP, TransportTURNUDP, TransportTURNTCP, TransportTURNTLS}

// ParseTransport reads a transport's name; "" is the zero Transport.
func ParseTransport(s string) (Transport, error) {
	if s == "" {
		return "", nil
	}
	for _, t := range Transports {
		if string(t) == s {
			return t, nil
		}
	}
	names := make([]string, len(Transports))
	for i, t := range Transports {
		names[i] = string(t)
	}
	return "", fmt.Errorf("transport %q: want one of %s", s, strings.Join(names, ", "))
}

// relay is t's Config.Relay value: which TURN transport of the join
// answer's ice_servers a TURN transport takes (relay.go); "" for the others.
func (t Transport) relay() string {
	return map[Transport]string{TransportTURNUDP: RelayUDP, TransportTURNTCP: RelayTCP, TransportTURNTLS: RelayTLS}[t]
}

// relayed reports whether t goes through TURN.
func (t Transport) relayed() bool { return t.relay() != "" }

// withTransport is cfg with its Transport's TURN choice as its Relay.
func (cfg Config) withTransport() Config {
	if r := cfg.Transport.relay(); r != "" {
		cfg.Relay = r
	}
	return cfg
}

// networkTypes are the candidate networks ICE may use for t, nil to leave
// them as they are: tcp has TCP only; udp, off loopback (which is UDP4
// already), UDP only. The TURN transports keep Relay's (relay.go).
func (t Transport) networkTypes(loopback bool) []webrtc.NetworkType {
	switch {
	case t == TransportTCP && loopback:
		return []webrtc.NetworkType{webrtc.NetworkTypeTCP4}
	case t == TransportTCP:
		return []webrtc.NetworkType{webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6}
	case t == TransportUDP && !loopback:
		return []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	}
	return nil
}

// tapsDecrypted reports whether the tap sees packets after pion decrypted
// them: over TCP or TURN, RTP arrives framed (RFC 4571) or wrapped (TURN
// ChannelData, RFC 8656 §12.4) on sockets the tap's UDP reader does not
// own, so the tap cannot read it in place.
func (c *Client) tapsDecrypted() bool {
	return c.cfg.Tap != nil && (c.cfg.Transport == TransportTCP || c.cfg.Transport.relayed())
}

// tapDecrypted shows a decrypted packet to the tap, with the time it was
// read for its arrival; false when the tap drops it.
func (c *Client) tapDecrypted(pkt *rtp.Packet, size int) bool {
	return c.cfg.Tap(pkt.SSRC, pkt.SequenceNumber, pkt.Timestamp, size, time.Now())
}
