package client

import (
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"
)

// Values of Config.Relay: which of the join answer's TURN URLs the client
// takes when it must reach the server through TURN only.
const (
	RelayUDP = "udp" // turn:host:port?transport=udp
	RelayTCP = "tcp" // turn:host:port?transport=tcp
	RelayTLS = "tls" // turns:host:port?transport=tcp
)

// relayNetworkTypes are the network types a relay-only client needs: UDP
// for the relayed candidates, TCP to reach TURN over TCP or TLS.
var relayNetworkTypes = []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4}

// useRelay makes the peer connection gather only relayed candidates, from
// the TURN URLs of the joined message's ice_servers that cfg.Relay names
// (ICETransportPolicyRelay, W3C WebRTC §4.2.5). It runs before the first
// offer is answered, so gathering has not begun.
func (c *Client) useRelay() error {
	var servers []webrtc.ICEServer
	for _, s := range c.Joined.ICEServers {
		var urls []string
		for _, u := range s.URLs {
			if relayURLMatches(u, c.cfg.Relay) {
				urls = append(urls, u)
			}
		}
		if len(urls) > 0 {
			servers = append(servers, webrtc.ICEServer{URLs: urls, Username: s.Username, Credential: s.Credential})
		}
	}
	if len(servers) == 0 {
		return fmt.Errorf("client: the join answer has no %s TURN server (ice_servers: %d)", c.cfg.Relay, len(c.Joined.ICEServers))
	}
	cfg := c.pc.GetConfiguration()
	cfg.ICEServers, cfg.ICETransportPolicy = servers, webrtc.ICETransportPolicyRelay
	return c.pc.SetConfiguration(cfg)
}

func relayURLMatches(u, relay string) bool {
	switch relay {
	case RelayUDP:
		return strings.HasPrefix(u, "turn:") && strings.HasSuffix(u, "?transport=udp")
	case RelayTCP:
		return strings.HasPrefix(u, "turn:") && strings.HasSuffix(u, "?transport=tcp")
	case RelayTLS:
		return strings.HasPrefix(u, "turns:")
	}
	return false
}
