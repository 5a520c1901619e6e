package client

import (
	"strings"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// nackFeedback is generic NACK (RFC 4585 §4.2) on the Opus codec the client
// registers when Config.NACK is set: pion's answer keeps it where the
// server's offer has it, as Chromium's does.
var nackFeedback = []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBNACK}}

// nackReceiverSSRC is the sender SSRC of a listener's NACKs: a peer that
// publishes nothing has no SSRC of its own (libwebrtc uses 1 there too).
const nackReceiverSSRC = 1

// addNACKResponder makes the published stream answer the server's NACKs
// from a send history, as libwebrtc does (pion's responder: 256 packets,
// about 5 s of 20 ms frames).
func addNACKResponder(ir *interceptor.Registry) error {
	r, err := nack.NewResponderInterceptor(nack.ResponderSize(256))
	if err != nil {
		return err
	}
	ir.Add(r)
	return nil
}

// NACKNegotiated reports whether the client's answer kept generic NACK (the
// server offered it and Config.NACK was set).
func (c *Client) NACKNegotiated() bool {
	ld := c.pc.CurrentLocalDescription()
	return c.cfg.NACK && ld != nil && strings.Contains(ld.SDP, " nack\r\n")
}

// NACK asks the server again for a remote stream's packets (RFC 4585 §6.2.1
// generic NACK), encrypted through the client's SRTCP session.
func (c *Client) NACK(ssrc uint32, seqs []uint16) error {
	if len(seqs) == 0 {
		return nil
	}
	return c.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{SenderSSRC: nackReceiverSSRC, MediaSSRC: ssrc,
		Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}})
}
