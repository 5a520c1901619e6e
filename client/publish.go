package client

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// publish sends Opus-shaped RTP, 20 ms frames (50 packets/s) with the RFC 6464
// audio-level extension, until the client closes.
func (c *Client) publish() {
	var extID uint8
	for _, e := range c.micSender.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			extID = uint8(e.ID)
		}
	}
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	seq := uint16(rand.Uint32())
	ts := rand.Uint32()
	payload := make([]byte, 80)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tk.C:
		}
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts}, Payload: payload}
		if extID != 0 {
			lvl, _ := rtp.AudioLevelExtension{Level: c.cfg.Level, Voice: true}.Marshal()
			_ = pkt.Header.SetExtension(extID, lvl)
		}
		if err := c.mic.WriteRTP(&pkt); err == nil {
			c.sent.Add(1)
		}
		seq++
		ts += 960
	}
}
