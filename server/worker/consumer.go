package worker

import (
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// consumer is a forwarded copy of a producer to one transport.
type consumer struct {
	producer *producer
	t        *transport
	track    *webrtc.TrackLocalStaticRTP
	sender   *webrtc.RTPSender
	// From the listener's latest RTCP receiver report (RFC 3550 6.4.2).
	totalLost atomic.Uint32
	jitter    atomic.Uint32 // in RTP timestamp units (48 kHz)
	reported  atomic.Bool
}

func (w *Worker) createConsumer(p ipc.ConsumerRef) error {
	t, err := w.transport(p.TransportID)
	if err != nil {
		return err
	}
	w.mu.Lock()
	pr := w.producers[p.ProducerID]
	w.mu.Unlock()
	if pr == nil || pr.r != t.r {
		return notFound("producer", p.ProducerID)
	}
	if pr.t != nil && pr.t == t {
		return &ipc.RemoteError{Code: ipc.CodeExists, Message: "a transport does not consume its own producer"}
	}
	streamID := p.StreamID
	if streamID == "" {
		streamID = pr.id
	}
	track, err := webrtc.NewTrackLocalStaticRTP(OpusCodec, pr.id, streamID)
	if err != nil {
		return err
	}

	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return notFound("transport", t.id)
	}
	if _, dup := t.consumers[pr.id]; dup {
		t.mu.Unlock()
		return exists("consumer", pr.id)
	}
	tr, err := t.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.mu.Unlock()
		return err
	}
	c := &consumer{producer: pr, t: t, track: track, sender: tr.Sender()}
	t.consumers[pr.id] = c
	t.mu.Unlock()

	go c.readRTCP()
	pr.addConsumer(c)
	return t.negotiate()
}

// readRTCP reads the listener's RTCP (which also feeds the interceptors) and keeps
// its loss and jitter.
func (c *consumer) readRTCP() {
	for {
		pkts, _, err := c.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			rr, ok := p.(*rtcp.ReceiverReport)
			if !ok {
				continue
			}
			for _, r := range rr.Reports {
				if prev := c.totalLost.Swap(r.TotalLost); r.TotalLost > prev {
					c.t.w.rtcpLost.Add(uint64(r.TotalLost - prev))
				}
				c.jitter.Store(r.Jitter)
				c.reported.Store(true)
			}
		}
	}
}

// closeConsumer is control's request to stop forwarding a producer to t.
func (t *transport) closeConsumer(producerID string) bool {
	t.mu.Lock()
	c := t.consumers[producerID]
	t.mu.Unlock()
	if c == nil {
		return false
	}
	c.producer.removeConsumer(c)
	t.dropConsumer(c)
	return true
}

// dropConsumer removes c's track from t and renegotiates.
func (t *transport) dropConsumer(c *consumer) {
	t.mu.Lock()
	if t.consumers[c.producer.id] != c || t.closed {
		t.mu.Unlock()
		return
	}
	delete(t.consumers, c.producer.id)
	_ = t.pc.RemoveTrack(c.sender)
	t.mu.Unlock()
	if err := t.negotiate(); err != nil {
		if t.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return // the peer went away while its consumer was being removed
		}
		t.w.log.Warn("renegotiation failed", "transport", t.id, "err", err)
	}
}
