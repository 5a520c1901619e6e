package client

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/pion/webrtc/v4"
)

// RED (RFC 2198): Opus with copies of the frames before it, which Chromium
// publishes and receives when a server offers `red/48000/2` (fmtp `111/111`)
// first. A client with Config.RED answers such an offer keeping RED, as
// Chromium does: it publishes RED (each packet carrying the frame before it
// again) and hears RED, whose redundant blocks it hands to OnRedundancy so a
// listener can recover a lost packet's frame from the next.
//
// The payload (RFC 2198 §3) starts with one header per block, the primary
// last (F=0, one byte), the others four bytes: F=1, block PT, a 14-bit
// timestamp offset back from the packet's and a 10-bit length; then the
// blocks' data in the same order.

// redCodec is RED as Chromium offers it: payload type 63, Opus blocks.
var redCodec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeRED, ClockRate: 48000,
	Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: 63}

const (
	mimeRED = "audio/red"
	// redBlockPT is the Opus payload type inside RED blocks (fmtp 111/111).
	redBlockPT = 111
)

// ErrMalformedRED is a RED payload whose headers or lengths do not fit.
var ErrMalformedRED = errors.New("red: malformed payload")

// REDBlock is a redundant block: the frame TimestampOffset before the
// packet's own, in RTP clock units.
type REDBlock struct {
	TimestampOffset uint16
	Data            []byte
}

// ParseRED splits a RED payload into its redundant blocks (oldest first,
// appended to blocks) and its primary, reading nothing outside payload.
func ParseRED(payload []byte, blocks []REDBlock) (primary []byte, _ []REDBlock, err error) {
	off, n := 0, 0
	type hdr struct{ ts, length int }
	var hdrs [8]hdr
	for {
		if off >= len(payload) {
			return nil, blocks, ErrMalformedRED
		}
		if payload[off]&0x80 == 0 { // the primary's header
			off++
			break
		}
		if off+4 > len(payload) || n == len(hdrs) {
			return nil, blocks, ErrMalformedRED
		}
		v := binary.BigEndian.Uint32(payload[off:])
		hdrs[n] = hdr{ts: int(v>>10) & 0x3fff, length: int(v & 0x3ff)}
		n++
		off += 4
	}
	for _, h := range hdrs[:n] {
		if off+h.length > len(payload) {
			return nil, blocks, ErrMalformedRED
		}
		blocks = append(blocks, REDBlock{TimestampOffset: uint16(h.ts), Data: payload[off : off+h.length]})
		off += h.length
	}
	return payload[off:], blocks, nil
}

// AppendRED appends to dst a RED payload of primary and, when prev is not
// empty, the frame before it (timestamp offset tsOffset) as one redundant
// block.
func AppendRED(dst, primary, prev []byte, tsOffset uint16) []byte {
	if len(prev) > 0 && len(prev) < 1024 && tsOffset < 1<<14 {
		dst = binary.BigEndian.AppendUint32(dst, 1<<31|redBlockPT<<24|uint32(tsOffset)<<10|uint32(len(prev)))
	} else {
		prev = nil
	}
	dst = append(dst, redBlockPT)
	dst = append(dst, prev...)
	return append(dst, primary...)
}

// offersRED reports whether an offer carries RED.
func offersRED(sdp string) bool { return strings.Contains(sdp, " red/48000/2") }

// REDNegotiated reports whether the client's answer kept RED.
func (c *Client) REDNegotiated() bool {
	ld := c.pc.CurrentLocalDescription()
	return c.cfg.RED && ld != nil && offersRED(ld.SDP)
}
