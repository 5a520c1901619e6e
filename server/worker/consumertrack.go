package worker

import (
	"strings"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// consumerTrack is a consumer's outgoing track. pion binds it once the listener
// has answered the offer that announced its SSRC; only then may the worker send.
// A packet that arrives earlier carries an SSRC the listener does not know yet,
// and a WebRTC stack drops such a stream for good (pion after a few packets that
// name no mid). pion's own writer waits for the bind; the worker's writer asks.
//
// The bind also says which payload types the listener gave Opus and RED
// (RFC 2198) in its answer: the worker writes each packet under the
// listener's numbers (payloadTypes).
type consumerTrack struct {
	*webrtc.TrackLocalStaticRTP
	// bound and pts live in the consumer, beside what the forwarding path reads
	// with them.
	bound *atomic.Bool
	pts   *atomic.Uint32
	// binding is pion's write path for the listener (routes without keys),
	// for packets TrackLocalStaticRTP cannot write: RED, or its primary.
	binding atomic.Pointer[trackBinding]
}

// trackBinding is what a bind gave the track.
type trackBinding struct {
	stream webrtc.TrackLocalWriter
	ssrc   uint32
	pts    payloadTypes
}

// payloadTypes are the listener's numbers for Opus and RED (0: RED not
// negotiated), packed for one atomic load per packet.
type payloadTypes uint32

func (p payloadTypes) opus() uint8 { return uint8(p) }
func (p payloadTypes) red() uint8  { return uint8(p >> 8) }

func newConsumerTrack(id, streamID string, bound *atomic.Bool, pts *atomic.Uint32) (*consumerTrack, error) {
	t, err := webrtc.NewTrackLocalStaticRTP(OpusCodec, id, streamID)
	if err != nil {
		return nil, err
	}
	return &consumerTrack{TrackLocalStaticRTP: t, bound: bound, pts: pts}, nil
}

// Bind implements webrtc.TrackLocal.
func (t *consumerTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err == nil {
		pts := payloadTypes(codec.PayloadType)
		for _, c := range ctx.CodecParameters() {
			if strings.EqualFold(c.MimeType, REDCodec.MimeType) {
				pts |= payloadTypes(c.PayloadType) << 8
				break
			}
		}
		t.binding.Store(&trackBinding{stream: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pts: pts})
		t.pts.Store(uint32(pts))
		t.bound.Store(true)
	}
	return codec, err
}

// Unbind implements webrtc.TrackLocal.
func (t *consumerTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.bound.Store(false)
	t.binding.Store(nil)
	return t.TrackLocalStaticRTP.Unbind(ctx)
}

// writeRED writes a RED packet through pion: as RED where the listener
// negotiated it, else its primary block as Opus. This is pion's path
// (ICE over TCP, or the worker as DTLS client), which allocates anyway.
func (t *consumerTrack) writeRED(pkt *rtp.Packet, red redPacket) error {
	b := t.binding.Load()
	if b == nil {
		return errNotBound
	}
	hdr := pkt.Header
	hdr.SSRC = b.ssrc
	payload := pkt.Payload
	if pt := b.pts.red(); pt != 0 {
		hdr.PayloadType = pt
		if payload[0]&0x7f != b.pts.opus() {
			payload = append([]byte(nil), payload...)
			setREDBlockTypes(payload, red.blocks, b.pts.opus())
		}
	} else {
		hdr.PayloadType = b.pts.opus()
		hdr.Padding, hdr.PaddingSize = false, 0
		payload = payload[red.primaryOff : red.primaryOff+red.primaryLen]
	}
	_, err := b.stream.WriteRTP(&hdr, payload)
	return err
}
