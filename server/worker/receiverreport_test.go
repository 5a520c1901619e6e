package worker

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// report decodes the receiver report s appends now.
func report(t *testing.T, s *receiveStats, now time.Time) rtcp.ReceptionReport {
	t.Helper()
	pkts, err := rtcp.Unmarshal(s.appendReport(nil, now))
	require.NoError(t, err)
	require.Len(t, pkts, 1)
	rr, ok := pkts[0].(*rtcp.ReceiverReport)
	require.True(t, ok)
	require.Equal(t, s.reporter, rr.SSRC)
	require.Len(t, rr.Reports, 1)
	return rr.Reports[0]
}

// TestReceiveStatsFollowRFC3550: sequence numbers extended across a wrap,
// losses cumulative and per interval, jitter zero for a steady stream and about
// the arrival wobble otherwise, LSR and DLSR from the publisher's last report.
func TestReceiveStatsFollowRFC3550(t *testing.T) {
	s := newReceiveStats()
	require.Empty(t, s.appendReport(nil, time.Now()), "nothing before the first packet")

	start := time.Unix(1_700_000_000, 0)
	const frame = 20 * time.Millisecond
	send := func(i int, wobble time.Duration) {
		seq := uint16(65500 + i) // wraps after 36 packets
		s.packet(42, seq, uint32(i*960), start.Add(time.Duration(i)*frame+wobble).UnixNano())
	}
	for i := 0; i < 100; i++ {
		send(i, 0)
	}
	r := report(t, s, start)
	require.EqualValues(t, 42, r.SSRC)
	require.EqualValues(t, 65500+99, r.LastSequenceNumber, "extended across the wrap")
	require.Zero(t, r.TotalLost)
	require.Zero(t, r.FractionLost)
	require.Zero(t, r.Jitter, "a perfectly paced stream")

	for i := 100; i < 200; i++ {
		if i >= 150 && i < 160 {
			continue // ten lost
		}
		send(i, time.Duration(i%2)*5*time.Millisecond) // every other packet 5 ms late
	}
	s.senderReport(&rtcp.SenderReport{SSRC: 42, NTPTime: 0x1122334455667788}, start)
	s.senderReport(&rtcp.SenderReport{SSRC: 7, NTPTime: 0x9999999999999999}, start) // someone else's
	r = report(t, s, start.Add(1500*time.Millisecond))
	require.EqualValues(t, 10, r.TotalLost)
	require.EqualValues(t, 10*256/100, r.FractionLost, "10 of the interval's 100 lost")
	require.InDelta(t, 240, float64(r.Jitter), 40, "5 ms at 48 kHz")
	require.EqualValues(t, 0x33445566, r.LastSenderReport)
	require.EqualValues(t, 1.5*65536, r.Delay)

	r = report(t, s, start.Add(2*time.Second))
	require.Zero(t, r.FractionLost, "nothing new lost since the last report")
	require.EqualValues(t, 10, r.TotalLost)
}

// TestReceiveStatsAllocateNothing: counted in the dispatch loop, per packet.
func TestReceiveStatsAllocateNothing(t *testing.T) {
	s := newReceiveStats()
	buf := make([]byte, 0, 64)
	seq := uint16(0)
	allocs := leastAllocsPerRun(200, func() {
		seq++
		s.packet(1, seq, uint32(seq)*960, time.Now().UnixNano())
		buf = s.appendReport(buf[:0], time.Now())
	})
	require.Zero(t, allocs)
}

// TestPublisherHearsReceiverReports: a pion publisher connected to a worker
// transport gets RTCP receiver reports on what the worker received of its
// stream: its SSRC, the highest sequence number, no loss.
func TestPublisherHearsReceiverReports(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46480)
	tr, mic, sender := connectPublisher(t, w, "PUB", "M", nil)

	reports := make(chan rtcp.ReceptionReport, 16)
	go readRTCP(sender.ReadRTCP, func(p rtcp.Packet) {
		if rr, ok := p.(*rtcp.ReceiverReport); ok && len(rr.Reports) == 1 {
			reports <- rr.Reports[0]
		}
	})
	ssrc := uint32(sender.GetParameters().Encodings[0].SSRC)
	received := func() (uint32, uint16) {
		tr.mu.Lock()
		p := tr.producer
		tr.mu.Unlock()
		if p == nil {
			return 0, 0
		}
		p.stats.mu.Lock()
		defer p.stats.mu.Unlock()
		return p.stats.received, p.stats.maxSeq
	}
	// Packets sent before the worker's track opens are not the worker's to count.
	seq := uint16(0)
	require.Eventually(t, func() bool {
		seq++
		publish(t, mic, seq)
		n, _ := received()
		return n >= 30
	}, 10*time.Second, 5*time.Millisecond, "the worker receives the stream")
	require.Eventually(t, func() bool { _, last := received(); return last == seq }, 5*time.Second, 5*time.Millisecond)

	tr.sendReports()
	select {
	case r := <-reports:
		require.Equal(t, ssrc, r.SSRC)
		require.EqualValues(t, seq, r.LastSequenceNumber)
		require.Zero(t, r.TotalLost)
		require.Zero(t, r.FractionLost)
	case <-time.After(5 * time.Second):
		t.Fatal("no receiver report reached the publisher")
	}
}

// connectPublisher connects a pion client, configured by tune, that publishes
// producer producerID through worker transport id, with no interceptors; it
// returns the worker's transport, the client's track and its sender. apiOpts
// come after the client's own (another media engine, say).
func connectPublisher(tb testing.TB, w *Worker, id, producerID string, tune func(*webrtc.SettingEngine), apiOpts ...func(*webrtc.API)) (*transport, *webrtc.TrackLocalStaticRTP, *webrtc.RTPSender) {
	tb.Helper()
	require.NoError(tb, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: id, ProducerID: producerID}))
	tr := w.transports[id]
	waitGathered(tb, tr)
	cpc := newTestClient(tb, tune, append([]func(*webrtc.API){webrtc.WithInterceptorRegistry(&interceptor.Registry{})}, apiOpts...)...)
	mic, err := webrtc.NewTrackLocalStaticRTP(OpusCodec, "mic", id)
	require.NoError(tb, err)
	return tr, mic, answerOffer(tb, cpc, tr, mic)[0]
}

// publish sends opusPacket(seq) on mic; pion sets the SSRC and payload type.
func publish(tb testing.TB, mic *webrtc.TrackLocalStaticRTP, seq uint16) {
	tb.Helper()
	_, pkt := opusPacket(seq)
	require.NoError(tb, mic.WriteRTP(pkt))
}
