package client

import (
	"net"
	"strconv"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/wire"
)

// iceDisconnectedGrace is how long ICE may stay disconnected before the
// client asks for a restart: a few lost consent checks (RFC 7675) heal by
// themselves, a changed address or path does not.
const iceDisconnectedGrace = time.Second

// restartEvery bounds automatic ICE restarts: one in flight at a time.
const restartEvery = 2 * time.Second

// RestartICE asks the server for an ICE restart (restart_ice): it answers
// with an offer with new ICE credentials, which the client answers as any
// offer, gathering its addresses again. Call it when the network changed
// (a new address); the client calls it by itself when ICE goes
// disconnected for a moment, or failed. DTLS, SRTP and the streams are kept.
func (c *Client) RestartICE() error {
	c.lastRestart.Store(time.Now().UnixNano())
	c.iceRestarts.Add(1)
	c.log.Info("asking the server for an ICE restart", "ice", c.pc.ICEConnectionState())
	return c.Send(wire.Envelope{Type: wire.TypeRestartICE})
}

// ICERestarts counts the ICE restarts this client asked for.
func (c *Client) ICERestarts() int { return int(c.iceRestarts.Load()) }

func (c *Client) onICEState(s webrtc.ICEConnectionState) {
	switch s {
	case webrtc.ICEConnectionStateFailed:
		c.autoRestart()
	case webrtc.ICEConnectionStateDisconnected:
		time.AfterFunc(iceDisconnectedGrace, func() {
			if c.pc.ICEConnectionState() == webrtc.ICEConnectionStateDisconnected {
				c.autoRestart()
			}
		})
	}
}

func (c *Client) autoRestart() {
	if c.ctx.Err() != nil || c.Joined == nil {
		return
	}
	if time.Since(time.Unix(0, c.lastRestart.Load())) < restartEvery {
		return
	}
	_ = c.RestartICE()
}

// LocalAddress is the local ip:port of the ICE pair the media uses now,
// "" before one is selected.
func (c *Client) LocalAddress() string {
	p, err := c.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || p == nil || p.Local == nil {
		return ""
	}
	return net.JoinHostPort(p.Local.Address, strconv.Itoa(int(p.Local.Port)))
}
