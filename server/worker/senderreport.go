package worker

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"

	"github.com/voicectl/voicectl/internal/udpmsg"
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
	t.reports = t.w.api.sockets.rounds.afterFunc(nextReport(), t.sendReports)
}

func (t *transport) sendReports() {
	now := time.Now()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	viaPion, err := t.writeReportsLocked(now)
	t.reports.Reset(nextReport())
	t.mu.Unlock()
	if err == nil && len(viaPion) > 0 {
		err = t.pc.WriteRTCP(viaPion)
	}
	if err != nil {
		t.w.log.Debug("RTCP reports not sent", "transport", t.id, "err", err)
	}
}

// reportWriter is a transport's SRTCP for the reports it writes itself, with
// the keys of its own media path; its buffers are reused report after report.
type reportWriter struct {
	keys   *srtpKeys
	ctx    *srtp.Context
	hdr    rtcp.Header
	plain  []byte
	sealed []byte
}

// reportBufferLen holds a compound report of a few sender reports and a
// receiver report, sealed, without growing.
const reportBufferLen = 256

// useKeys makes w encrypt with keys, in a context of its own.
func (w *reportWriter) useKeys(keys *srtpKeys) error {
	if w.keys == keys {
		return nil
	}
	ctx, err := keys.newContext()
	if err != nil {
		return err
	}
	w.keys, w.ctx = keys, ctx
	return nil
}

// prepareReports sets up t's report writer as soon as t connects on the
// worker's own write path, so that its first report, up to 1.5 report
// intervals later, allocates nothing: a connected transport is in steady
// state at once. (The SRTCP state of each SSRC is still made by pion on its
// first report.)
func (t *transport) prepareReports() {
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := t.route.Load()
	if t.closed || rt == nil || !rt.fast() {
		return
	}
	w := &t.reportOut
	if err := w.useKeys(rt.keys); err != nil {
		t.w.log.Debug("RTCP reports not prepared", "transport", t.id, "err", err)
		return
	}
	if w.plain == nil {
		w.plain, w.sealed = make([]byte, 0, reportBufferLen), make([]byte, 0, reportBufferLen)
	}
}

// srLen is the size of a sender report without report blocks (RFC 3550 §6.4.1).
const srLen = 28

// writeReportsLocked sends one compound RTCP packet: the sender reports of t's
// consumers and the receiver report on its producer. On the worker's own
// write path it is encrypted with the route's keys (RFC 3711 §3.4) and written
// straight to the peer's address, as the media is; otherwise the packets are
// returned for pion's SRTCP, which the caller writes without t.mu.
func (t *transport) writeReportsLocked(now time.Time) ([]rtcp.Packet, error) {
	w := &t.reportOut
	w.plain = w.plain[:0]
	for _, c := range t.consumers {
		w.plain = c.appendSenderReport(w.plain, now)
	}
	if t.producer != nil && t.producer.stats != nil {
		w.plain = t.producer.stats.appendReport(w.plain, now)
	}
	rt := t.route.Load()
	if len(w.plain) == 0 || rt == nil {
		return nil, nil
	}
	if !rt.fast() {
		return rtcp.Unmarshal(w.plain)
	}
	if err := w.useKeys(rt.keys); err != nil {
		return nil, err
	}
	sealed, err := w.ctx.EncryptRTCP(w.sealed[:0], w.plain, &w.hdr)
	if err != nil {
		return nil, err
	}
	w.sealed = sealed
	_, err = rt.sock.writeTo(sealed, udpmsg.AddrPort4(&rt.dst))
	return nil, err
}

// appendSenderReport appends c's sender report to b, nothing before its first packet.
func (c *consumer) appendSenderReport(b []byte, now time.Time) []byte {
	at := c.lastSentAt.Load()
	if at == 0 {
		return b
	}
	sr := c.senderReportAt(now, at)
	b = append(b, 0x80, byte(rtcp.TypeSenderReport), 0, srLen/4-1)
	b = binary.BigEndian.AppendUint32(b, sr.SSRC)
	b = binary.BigEndian.AppendUint64(b, sr.NTPTime)
	b = binary.BigEndian.AppendUint32(b, sr.RTPTime)
	b = binary.BigEndian.AppendUint32(b, sr.PacketCount)
	return binary.BigEndian.AppendUint32(b, sr.OctetCount)
}

// senderReportAt describes what c has sent (RFC 3550 §6.4.1), its last packet
// having left at at (unix ns).
func (c *consumer) senderReportAt(now time.Time, at int64) rtcp.SenderReport {
	elapsed := now.Sub(time.Unix(0, at))
	return rtcp.SenderReport{
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
