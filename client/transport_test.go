package client

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

func TestParseTransport(t *testing.T) {
	for _, name := range []string{"udp", "tcp", "turn-udp", "turn-tcp", "turn-tls"} {
		got, err := ParseTransport(name)
		require.NoError(t, err)
		require.Equal(t, Transport(name), got)
	}
	got, err := ParseTransport("")
	require.NoError(t, err)
	require.Equal(t, Transport(""), got)
	_, err = ParseTransport("quic")
	require.ErrorContains(t, err, `transport "quic": want one of udp, tcp, turn-udp, turn-tcp, turn-tls`)
}

func TestTransportNetworkTypes(t *testing.T) {
	require.Equal(t, []webrtc.NetworkType{webrtc.NetworkTypeTCP4}, TransportTCP.networkTypes(true))
	require.Equal(t, []webrtc.NetworkType{webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6}, TransportTCP.networkTypes(false))
	require.Equal(t, []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}, TransportUDP.networkTypes(false))
	require.Nil(t, TransportUDP.networkTypes(true), "loopback is udp4 already")
	require.Nil(t, Transport("").networkTypes(false), "no transport: pion's default networks")
	for _, tr := range []Transport{TransportTURNUDP, TransportTURNTCP, TransportTURNTLS} {
		require.Nil(t, tr.networkTypes(true), "%s: Relay's networks", tr)
		require.Nil(t, tr.networkTypes(false), tr)
	}
}

// A TURN transport is the Relay option with that TURN transport.
func TestTURNTransportsSetRelay(t *testing.T) {
	for tr, relay := range map[Transport]string{TransportTURNUDP: RelayUDP, TransportTURNTCP: RelayTCP, TransportTURNTLS: RelayTLS} {
		require.Equal(t, relay, Config{Transport: tr}.withTransport().Relay, tr)
		require.True(t, tr.relayed())
	}
	for _, tr := range []Transport{"", TransportUDP, TransportTCP} {
		require.Empty(t, Config{Transport: tr}.withTransport().Relay, tr)
		require.False(t, tr.relayed())
	}
	require.Equal(t, RelayTLS, Config{Relay: RelayTLS}.withTransport().Relay, "no transport leaves Relay as it was")

	// The client keeps it: its join takes that TURN URL alone.
	c, err := newClient(Config{URL: "http://127.0.0.1:7880", Transport: TransportTURNTCP}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.cancel(); _ = c.pc.Close() })
	require.Equal(t, RelayTCP, c.cfg.Relay)
}

// Over TCP and TURN the tap sees decrypted packets (their sockets are not
// the tap's); over UDP it reads them in place and onTrack leaves them be.
func TestTapSeesDecryptedPacketsOffUDP(t *testing.T) {
	var got []uint16
	tap := func(ssrc uint32, seq uint16, ts uint32, size int, arrival time.Time) bool {
		require.Equal(t, uint32(7), ssrc)
		require.Equal(t, uint32(960), ts)
		require.Equal(t, 112, size)
		require.WithinDuration(t, time.Now(), arrival, time.Second)
		got = append(got, seq)
		return seq%2 == 0
	}
	for tr, want := range map[Transport]bool{"": false, TransportUDP: false, TransportTCP: true, TransportTURNUDP: true, TransportTURNTLS: true} {
		c := &Client{cfg: Config{Tap: tap, Transport: tr}}
		require.Equal(t, want, c.tapsDecrypted(), tr)
	}
	require.False(t, (&Client{cfg: Config{Transport: TransportTCP}}).tapsDecrypted(), "no tap, nothing to show")

	c := &Client{cfg: Config{Tap: tap, Transport: TransportTCP}}
	require.False(t, c.tapDecrypted(&rtp.Packet{Header: rtp.Header{SSRC: 7, SequenceNumber: 1, Timestamp: 960}}, 112))
	require.True(t, c.tapDecrypted(&rtp.Packet{Header: rtp.Header{SSRC: 7, SequenceNumber: 2, Timestamp: 960}}, 112))
	require.Equal(t, []uint16{1, 2}, got)
}
