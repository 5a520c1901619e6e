package worker

import (
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// consumerTrack is a consumer's outgoing track. pion binds it once the listener
// has answered the offer that announced its SSRC; only then may the worker send.
// A packet that arrives earlier carries an SSRC the listener does not know yet,
// and a WebRTC stack drops such a stream for good (pion after a few packets that
// name no mid). pion's own writer waits for the bind; the worker's writer asks.
type consumerTrack struct {
	*webrtc.TrackLocalStaticRTP
	// bound lives in the consumer, beside what the forwarding path reads with it.
	bound *atomic.Bool
}

func newConsumerTrack(id, streamID string, bound *atomic.Bool) (*consumerTrack, error) {
	t, err := webrtc.NewTrackLocalStaticRTP(OpusCodec, id, streamID)
	if err != nil {
		return nil, err
	}
	return &consumerTrack{TrackLocalStaticRTP: t, bound: bound}, nil
}

// Bind implements webrtc.TrackLocal.
func (t *consumerTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err == nil {
		t.bound.Store(true)
	}
	return codec, err
}

// Unbind implements webrtc.TrackLocal.
func (t *consumerTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.bound.Store(false)
	return t.TrackLocalStaticRTP.Unbind(ctx)
}
