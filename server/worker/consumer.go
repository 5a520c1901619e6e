package worker

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// consumer is a forwarded copy of a producer to one transport.
type consumer struct {
	// What the forwarding path reads and writes for every packet comes first,
	// in one cache line (the struct takes the 128-byte allocation size class, whose
	// objects start on 64-byte boundaries): with hundreds of consumers per
	// fan-out each one is a cache miss, and one beats three.
	route    atomic.Pointer[route] // its transport's, kept in step by setRouteLocked
	track    *consumerTrack        // also pion's write path, for routes without keys
	gcm      *gcmSealer            // gcm and srtpKeys: used only by the dispatch goroutine
	srtpKeys *srtpKeys
	// What has been sent, for sender reports.
	lastSentAt    atomic.Int64 // unix nanoseconds
	ssrc          uint32       // the SSRC the offer announced
	sentPackets   atomic.Uint32
	sentOctets    atomic.Uint32
	lastTimestamp atomic.Uint32
	bound         atomic.Bool   // see consumerTrack
	pts           atomic.Uint32 // the listener's payloadTypes, set with bound

	t        *transport
	producer *producer
	sender   *webrtc.RTPSender
	srtp     *srtp.Context // used only by the dispatch goroutine, with hdr
	hdr      *rtp.Header   // by pointer: inline it would take the struct past 128 bytes
	// From the listener's latest RTCP receiver report (RFC 3550 6.4.2).
	totalLost atomic.Uint32
	jitter    atomic.Uint32 // in RTP timestamp units (48 kHz)
	reported  atomic.Bool
	rtx       *retransmitState // under producer.dispatchMu, see retransmit.go
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
	c := &consumer{producer: pr, t: t}
	track, err := newConsumerTrack(pr.id, streamID, &c.bound, &c.pts)
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
	c.track, c.sender = track, tr.Sender()
	if enc := c.sender.GetParameters().Encodings; len(enc) > 0 {
		c.ssrc = uint32(enc[0].SSRC)
	}
	t.consumers[pr.id] = c
	t.addRouteConsumer(c)
	t.mu.Unlock()

	go c.readRTCP()
	pr.addConsumer(c)
	return t.negotiate()
}

// forward sends one packet of c's producer to c's transport. raw is the packet as
// it arrived (decrypted); pkt is the same packet parsed; red is where its RED
// blocks lie (RFC 2198), nil for plain Opus. It reports whether it was sent.
func (c *consumer) forward(rt *route, b *sendBatch, raw []byte, hdrLen int, pkt *rtp.Packet, red *redPacket, now int64) bool {
	if !c.bound.Load() {
		return false // not negotiated yet
	}
	octets := len(pkt.Payload)
	if red != nil && payloadTypes(c.pts.Load()).red() == 0 {
		octets = red.primaryLen
	}
	if !rt.fast() {
		if red != nil {
			if c.track.writeRED(pkt, *red) != nil {
				return false
			}
		} else if c.track.WriteRTP(pkt) != nil {
			return false
		}
	} else if !c.queueSRTP(rt, b, raw, hdrLen, red) {
		return false
	}
	c.sentPackets.Add(1)
	c.sentOctets.Add(uint32(octets))
	c.lastTimestamp.Store(pkt.Timestamp)
	c.lastSentAt.Store(now)
	return true
}

// sealableHeaderLen is raw's RTP header length when the worker's own write path
// can take raw (a batch slot holds it and the SRTP tag), 0 when it cannot. It is
// the same for every consumer of a packet, so dispatch works it out once.
func sealableHeaderLen(raw []byte) int {
	if len(raw) > maxSRTPPacket-32 {
		return 0
	}
	return rtpHeaderLen(raw)
}

// queueSRTP rewrites raw for c (SSRC, payload type), encrypts it in its batch
// slot and queues it. The header is patched in place rather than re-marshalled:
// extensions and marker pass through as they came. A RED packet (red not nil)
// goes as RED, its blocks renumbered to the listener's Opus, where the
// listener negotiated RED; otherwise its header and primary block alone go,
// as Opus: RED's header is the primary's (timestamp, marker), so only the
// payload type changes, and the padding is left behind.
func (c *consumer) queueSRTP(rt *route, b *sendBatch, raw []byte, hdrLen int, red *redPacket) bool {
	if hdrLen == 0 {
		return false
	}
	if c.srtpKeys != rt.keys && !c.newSealer(rt.keys) {
		return false
	}
	pts := payloadTypes(c.pts.Load())
	g, buf := b.slot(rt.sock, &rt.dst)
	switch {
	case red == nil:
		buf = buf[:copy(buf, raw)]
		buf[1] = buf[1]&0x80 | pts.opus()
	case pts.red() != 0:
		buf = buf[:copy(buf, raw)]
		buf[1] = buf[1]&0x80 | pts.red()
		setREDBlockTypes(buf[hdrLen:], red.blocks, pts.opus())
	default:
		start := hdrLen + red.primaryOff
		n := copy(buf, raw[:hdrLen])
		buf = buf[:n+copy(buf[n:], raw[start:start+red.primaryLen])]
		buf[0] &^= 0x20
		buf[1] = buf[1]&0x80 | pts.opus()
	}
	binary.BigEndian.PutUint32(buf[8:12], c.ssrc)
	if c.gcm != nil {
		g.commit(c.gcm.seal(buf, hdrLen))
		return true
	}
	out, err := c.srtp.EncryptRTP(buf, buf, c.hdr)
	if err != nil {
		return false
	}
	g.commit(out)
	return true
}

// newSealer sets up c's SRTP protection with keys: the in-place AES-GCM sealer
// where the profile allows, pion's context otherwise.
func (c *consumer) newSealer(keys *srtpKeys) bool {
	c.gcm, c.srtp = nil, nil
	var err error
	if isGCM(keys.profile) {
		c.gcm, err = newGCMSealer(keys, c.ssrc)
	} else {
		c.srtp, err = keys.newContext()
		if c.hdr == nil {
			c.hdr = &rtp.Header{}
		}
	}
	if err != nil {
		c.t.w.log.Warn("srtp setup failed", "transport", c.t.id, "err", err)
		return false
	}
	c.srtpKeys = keys
	return true
}

// readRTCP reads the listener's RTCP (which also feeds the interceptors) and keeps
// its loss and jitter.
func (c *consumer) readRTCP() {
	for {
		pkts, _, err := c.sender.ReadRTCP()
		if err != nil {
			return
		}
		c.takeReports(pkts, &c.t.w.rtcpLost)
		c.takeNACKs(pkts)
	}
}

// takeReports keeps the loss and jitter of the receiver reports (RFC 3550
// §6.4.2) among pkts, and gives them to the transport's quality score; a listener's cumulative loss adds to lost only by what
// it grew, so a report that goes down (or wraps) adds nothing.
func (c *consumer) takeReports(pkts []rtcp.Packet, lost *atomic.Uint64) {
	for _, p := range pkts {
		rr, ok := p.(*rtcp.ReceiverReport)
		if !ok {
			continue
		}
		now := time.Now()
		for _, r := range rr.Reports {
			if c.t != nil {
				c.t.quality.takeReport(r, now)
			}
			if prev := c.totalLost.Swap(r.TotalLost); r.TotalLost > prev {
				lost.Add(uint64(r.TotalLost - prev))
			}
			c.jitter.Store(r.Jitter)
			c.reported.Store(true)
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
	t.removeRouteConsumer(c)
	_ = t.pc.RemoveTrack(c.sender)
	t.mu.Unlock()
	if err := t.negotiate(); err != nil {
		if errors.Is(err, webrtc.ErrConnectionClosed) || t.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return // the peer went away while its consumer was being removed
		}
		t.w.log.Warn("renegotiation failed", "transport", t.id, "err", err)
	}
}
