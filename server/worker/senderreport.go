package worker

import (
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pion/rtcp"
)

// reportInterval is the mean time between a transport's RTCP sender reports:
// 5 s, as libwebrtc uses for audio. RFC 3550 §6.2 randomises each interval (0.5 to 1.5 times the mean) so the
// reports of many transports do not bunch up; the worker does the same, which
// also keeps them from stalling forwarding in bursts.
const reportInterval = 5 * time.Second

func nextReport() time.Duration {
	return reportInterval/2 + rand.N(reportInterval)
}

// scheduleReports starts t's sender reports. The worker writes them itself
// because its forwarding path bypasses pion's interceptors, so pion's sender
// report interceptor would count nothing.
func (t *transport) scheduleReports() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reports = time.AfterFunc(nextReport(), t.sendReports)
}

func (t *transport) sendReports() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	cons := slices.Collect(maps.Values(t.consumers))
	t.mu.Unlock()

	now := time.Now()
	var pkts []rtcp.Packet
	for _, c := range cons {
		if sr := c.senderReport(now); sr != nil {
			pkts = append(pkts, sr)
		}
	}
	if len(pkts) > 0 {
		if err := t.pc.WriteRTCP(pkts); err != nil {
			t.w.log.Debug("sender report not sent", "transport", t.id, "err", err)
		}
	}
	t.mu.Lock()
	if !t.closed {
		t.reports.Reset(nextReport())
	}
	t.mu.Unlock()
}

// senderReport describes what c has sent (RFC 3550 §6.4.1), nil before its first packet.
func (c *consumer) senderReport(now time.Time) *rtcp.SenderReport {
	at := c.lastSentAt.Load()
	if at == 0 {
		return nil
	}
	elapsed := now.Sub(time.Unix(0, at))
	return &rtcp.SenderReport{
		SSRC:        c.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     c.lastTimestamp.Load() + uint32(elapsed.Seconds()*float64(OpusCodec.ClockRate)),
		PacketCount: c.sentPackets.Load(),
		OctetCount:  c.sentOctets.Load(),
	}
}

// ntpTime is t in the 64-bit NTP format of RFC 3550 §4 (seconds since 1900, 32.32 fixed point).
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix() + unixToNTP)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}
