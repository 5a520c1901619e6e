package worker

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// receiveStats follows a local producer's incoming stream for the RTCP
// receiver reports the worker sends its publisher (RFC 3550 §6.4.2): the
// extended highest sequence number and losses (Appendix A.1, A.3), the
// interarrival jitter (A.8), and the last sender report for the publisher's
// round-trip time. The worker keeps them itself, in the dispatch loop it
// already runs, instead of pion's report interceptor, which parsed every packet
// a second time into fresh objects.
type receiveStats struct {
	reporter uint32 // the SSRC our reports are sent as

	mu sync.Mutex
	stream
	lastSR   uint32 // middle 32 bits of its NTP time
	lastSRAt time.Time
}

// stream is what restarts with a new SSRC.
type stream struct {
	ssrc     uint32
	started  bool
	baseSeq  uint16
	maxSeq   uint16
	cycles   uint32 // sequence number wrap-arounds << 16
	received uint32
	transit  int64   // arrival − RTP timestamp of the last packet, in clock units
	jitter   float64 // in clock units

	expectedPrior, receivedPrior uint32
	// The same for the quality samples (qualitySample), which keep their
	// own interval.
	qualityExpected, qualityReceived uint32
}

func newReceiveStats() *receiveStats {
	return &receiveStats{reporter: rand.Uint32()}
}

// packet counts one RTP packet, arriving at arrival (unix ns).
func (s *receiveStats) packet(ssrc uint32, seq uint16, ts uint32, arrival int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	transit := arrival*int64(OpusCodec.ClockRate)/int64(time.Second) - int64(ts)
	if !s.started || ssrc != s.ssrc {
		s.stream = stream{ssrc: ssrc, started: true, baseSeq: seq, maxSeq: seq, received: 1, transit: transit}
		return
	}
	s.received++
	if delta := seq - s.maxSeq; delta != 0 && delta < 1<<15 {
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = seq
	}
	d := transit - s.transit
	s.transit = transit
	if d < 0 {
		d = -d
	}
	s.jitter += (float64(d) - s.jitter) / 16
}

// rollovers is how often stream ssrc's sequence numbers wrapped so far, 0 for
// another stream.
func (s *receiveStats) rollovers(ssrc uint32) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.ssrc != ssrc {
		return 0
	}
	return s.cycles >> 16
}

// senderReport notes the publisher's sender report, received at now.
func (s *receiveStats) senderReport(sr *rtcp.SenderReport, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sr.SSRC == s.ssrc {
		s.lastSR, s.lastSRAt = uint32(sr.NTPTime>>16), now
	}
}

// rrLen is a receiver report with one report block.
const rrLen = 8 + 24

// appendReport appends a receiver report on the stream so far to b (nothing
// before the first packet) and starts the next reporting interval.
func (s *receiveStats) appendReport(b []byte, now time.Time) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return b
	}
	extMax := s.cycles + uint32(s.maxSeq)
	expected := extMax - uint32(s.baseSeq) + 1
	lost := int64(expected) - int64(s.received)
	lost = max(min(lost, 0x7fffff), 0) // 24 bits, signed: duplicates can make it negative

	expectedInterval := expected - s.expectedPrior
	lostInterval := int64(expectedInterval) - int64(s.received-s.receivedPrior)
	s.expectedPrior, s.receivedPrior = expected, s.received
	var fraction uint32
	if expectedInterval > 0 && lostInterval > 0 {
		fraction = uint32(lostInterval<<8) / expectedInterval
	}
	var dlsr uint32
	if !s.lastSRAt.IsZero() {
		dlsr = uint32(now.Sub(s.lastSRAt).Seconds() * 65536)
	}

	b = append(b, 0x81, byte(rtcp.TypeReceiverReport), 0, rrLen/4-1)
	b = binary.BigEndian.AppendUint32(b, s.reporter)
	b = binary.BigEndian.AppendUint32(b, s.ssrc)
	b = binary.BigEndian.AppendUint32(b, min(fraction, 255)<<24|uint32(lost))
	b = binary.BigEndian.AppendUint32(b, extMax)
	b = binary.BigEndian.AppendUint32(b, uint32(s.jitter))
	b = binary.BigEndian.AppendUint32(b, s.lastSR)
	return binary.BigEndian.AppendUint32(b, dlsr)
}

// qualitySample is what the stream received since the last sample: the
// packets, the fraction lost (RFC 3550 Appendix A.3) and the jitter (A.8),
// for the transport's quality score.
func (s *receiveStats) qualitySample() publisherSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return publisherSample{}
	}
	expected := s.cycles + uint32(s.maxSeq) - uint32(s.baseSeq) + 1
	expInterval := int64(expected - s.qualityExpected)
	recvInterval := int64(s.received - s.qualityReceived)
	s.qualityExpected, s.qualityReceived = expected, s.received
	out := publisherSample{received: uint32(recvInterval), jitterMs: s.jitter * 1000 / float64(OpusCodec.ClockRate)}
	if expInterval > 0 && recvInterval < expInterval {
		out.loss = float64(expInterval-recvInterval) / float64(expInterval)
	}
	return out
}

// readSenderReports takes the publisher's RTCP until the receiver closes:
// its sender reports date our receiver reports' LSR and DLSR.
func (s *receiveStats) readSenderReports(recv *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		n, _, err := recv.Read(buf)
		if err != nil {
			return // the receiver closed with its transport
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		now := time.Now()
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				s.senderReport(sr, now)
			}
		}
	}
}
