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
	seq := uint16(c.seq.Load())
	ts := rand.Uint32()
	buf := make([]byte, 1200)
	var prev, red []byte // RED: the frame before, and the payload (red.go)
	start := time.Now()
	for frame := 0; ; frame++ {
		select {
		case <-c.ctx.Done():
			return
		case <-tk.C:
		}
		if c.pubPaused.Load() {
			ts += 960 // the clock goes on, as it does through DTX
			prev = prev[:0]
			continue
		}
		size, level, voice := 80, c.cfg.Level, true
		if c.cfg.PayloadSize != nil {
			size = min(max(c.cfg.PayloadSize(), 8), len(buf))
		}
		if c.cfg.DTX && time.Since(start)%(4*time.Second) >= 2*time.Second {
			// Silence: Opus DTX sends a comfort-noise frame every 400 ms only.
			if frame%20 != 0 {
				ts += 960
				prev = prev[:0]
				continue
			}
			size, level, voice = 8, 127, false
		}
		payload := buf[:size]
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		if c.micRED {
			// The frame before rides along, unless DTX skipped frames since.
			red = AppendRED(red[:0], payload, prev, 960)
			prev = append(prev[:0], payload...)
			payload = red
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts}, Payload: payload}
		if extID != 0 {
			lvl, _ := rtp.AudioLevelExtension{Level: level, Voice: voice}.Marshal()
			_ = pkt.Header.SetExtension(extID, lvl)
		}
		if err := c.mic.WriteRTP(&pkt); err == nil {
			c.sent.Add(1)
		}
		seq++
		c.seq.Store(uint32(seq))
		ts += 960
	}
}

// PausePublishing stops (true) or resumes (false) the published stream: no
// packets and no sequence numbers are spent while paused, so to listeners it is
// a silence, not a loss. The load generator pauses every publisher to measure
// what connected peers cost a server when nothing is forwarded.
func (c *Client) PausePublishing(paused bool) { c.pubPaused.Store(paused) }
