package worker

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// rawTrack is a client's audio track that writes packets with the payload
// type the test gives, where pion's own tracks put the negotiated one: a
// browser's sender may use another codec of the offer for a moment.
type rawTrack struct {
	ssrc   chan webrtc.SSRC
	writer chan webrtc.TrackLocalWriter
}

func newRawTrack() *rawTrack {
	return &rawTrack{ssrc: make(chan webrtc.SSRC, 1), writer: make(chan webrtc.TrackLocalWriter, 1)}
}

func (r *rawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	r.ssrc <- ctx.SSRC()
	r.writer <- ctx.WriteStream()
	return webrtc.RTPCodecParameters{RTPCodecCapability: OpusCodec, PayloadType: opusPayloadType}, nil
}

func (r *rawTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (r *rawTrack) ID() string                            { return "mic" }
func (r *rawTrack) RID() string                           { return "" }
func (r *rawTrack) StreamID() string                      { return "carol" }
func (r *rawTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeAudio }

// TestPublisherWhoseFirstPacketsCarryAnotherCodecIsHeard: a publisher whose
// answer kept Opus alone (no RED) but whose first packets carry the offer's
// RED payload type, as Chromium's do while it applies a re-offer that lists
// RED first, still becomes a producer, and its Opus is forwarded. Pion's
// track detection gave up on such a first packet for good: the stream was
// never heard (TestBrowsersPublishREDAndAPageWithoutItHearsThem, flaky).
func TestPublisherWhoseFirstPacketsCarryAnotherCodecIsHeard(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorkerWith(t, ipc.InitParams{Port: 46560, Loopback: true, RED: true})
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "C", ProducerID: "CAROL"}))
	tr := w.transports["C"]
	waitGathered(t, tr)
	cpc := newTestClient(t, nil) // Opus only: its answer drops RED
	mic := newRawTrack()
	answerOffer(t, cpc, tr, mic)
	require.NotContains(t, cpc.LocalDescription().SDP, "red/48000")
	ssrc, out := <-mic.ssrc, <-mic.writer
	connected := make(chan struct{})
	cpc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	if cpc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		select {
		case <-connected:
		case <-time.After(5 * time.Second):
			t.Fatal("the client did not connect")
		}
	}

	seq := uint16(0)
	write := func(pt uint8) {
		seq++
		_, pkt := opusPacket(seq)
		_, err := out.WriteRTP(&rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: uint32(ssrc)}, pkt.Payload)
		require.NoError(t, err)
	}
	for range 3 {
		write(redPayloadType)
	}
	require.Eventually(t, func() bool {
		write(opusPayloadType)
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.producers["CAROL"] != nil && w.packetsIn.Load() > 0
	}, 5*time.Second, 5*time.Millisecond, "the publisher's Opus reaches the worker")
}
