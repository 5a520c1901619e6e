package worker

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/stretchr/testify/require"
)

func TestHistoryLooksUpBySequenceNumber(t *testing.T) {
	var h packetHistory
	require.Nil(t, h.lookup(1, 1), "nothing kept yet")
	now := time.Now().UnixNano()
	for seq := uint16(10); seq < 20; seq++ {
		h.keep([]byte{byte(seq), 1, 2}, seq, now)
	}
	require.Equal(t, []byte{15, 1, 2}, h.lookup(15, now))
	require.Nil(t, h.lookup(9, now), "never kept")
	require.Nil(t, h.lookup(20, now), "not yet kept")
	require.Nil(t, h.lookup(15+historySlots, now), "same slot, another packet")
}

func TestHistoryWrapsOverOldPackets(t *testing.T) {
	var h packetHistory
	now := time.Now().UnixNano()
	// Across the sequence number wrap, twice round the ring.
	first := uint16(65530)
	for i := range 2 * historySlots {
		seq := first + uint16(i)
		h.keep([]byte{byte(seq)}, seq, now)
	}
	last := first + 2*historySlots - 1
	for back := range uint16(historySlots) {
		require.Equal(t, []byte{byte(last - back)}, h.lookup(last-back, now), "seq %d", last-back)
	}
	require.Nil(t, h.lookup(last-historySlots, now), "overwritten by a later packet")
}

func TestHistoryForgetsStalePackets(t *testing.T) {
	var h packetHistory
	at := time.Now().UnixNano()
	h.keep([]byte{1}, 7, at)
	require.NotNil(t, h.lookup(7, at+int64(historyMaxAge)))
	require.Nil(t, h.lookup(7, at+int64(historyMaxAge)+1), "older than historyMaxAge")
	require.Nil(t, h.lookup(7, at-1), "a clock that went back finds nothing")
}

func TestHistoryKeepsNoOversizedPacket(t *testing.T) {
	var h packetHistory
	now := time.Now().UnixNano()
	h.keep([]byte{1}, 3, now)
	h.keep(make([]byte, historySlotSize+1), 3+historySlots, now)
	require.Nil(t, h.lookup(3+historySlots, now))
	require.Nil(t, h.lookup(3, now), "the slot's older packet does not answer for it either")
}

func TestRetransmitLimiter(t *testing.T) {
	var l retransmitLimiter
	now := time.Now().UnixNano()
	for i := range retransmitBurst {
		require.True(t, l.allow(now), "burst %d", i)
	}
	require.False(t, l.allow(now), "the burst is spent")
	// One token comes back every 1/retransmitRate s.
	step := int64(float64(time.Second) / retransmitRate)
	require.False(t, l.allow(now+step/2))
	require.True(t, l.allow(now+step+1))
	require.False(t, l.allow(now+step+2))
	// A listener asking for everything for 10 s gets rate × 10 s, plus the burst.
	var got int
	for ms := int64(0); ms < 10_000; ms += 20 {
		if l.allow(now + 2*step + ms*int64(time.Millisecond)) {
			got++
		}
	}
	require.InDelta(t, 10*retransmitRate, got, 2)
	// Idle, the bucket fills up to the burst, no further.
	later := now + int64(time.Hour)
	got = 0
	for l.allow(later) {
		got++
	}
	require.Equal(t, retransmitBurst, got)
}

func TestNACKPairSequenceNumbers(t *testing.T) {
	var seqs [maxPairSeqs]uint16
	n := pairSeqs(rtcp.NackPair{PacketID: 65535, LostPackets: 0b1000_0000_0000_0101}, &seqs)
	require.Equal(t, []uint16{65535, 0, 2, 15}, seqs[:n], "BLP bit i is PID+i+1, across the wrap")
	n = pairSeqs(rtcp.NackPair{PacketID: 9, LostPackets: 0xffff}, &seqs)
	require.Equal(t, maxPairSeqs, n)
	require.Equal(t, uint16(25), seqs[16])
	for _, pair := range []rtcp.NackPair{{PacketID: 1}, {PacketID: 100, LostPackets: 0x8421}, {PacketID: 65530, LostPackets: 0xffff}} {
		n = pairSeqs(pair, &seqs)
		require.Equal(t, pair.PacketList(), seqs[:n], "as pion's PacketList")
	}
}

// TestAppendNACKParses: what the worker sends publishers is the NACK pion
// (and so any RFC 4585 receiver) reads, naming exactly the packets asked for.
func TestAppendNACKParses(t *testing.T) {
	for name, seqs := range map[string][]uint16{
		"one":       {7},
		"one pair":  {100, 101, 105, 116},
		"two pairs": {100, 117, 118},
		"wrap":      {65534, 65535, 0, 1, 20},
	} {
		t.Run(name, func(t *testing.T) {
			b := appendNACK([]byte{0xaa}, 11, 22, seqs)
			require.Equal(t, byte(0xaa), b[0], "appended")
			pkts, err := rtcp.Unmarshal(b[1:])
			require.NoError(t, err)
			require.Len(t, pkts, 1)
			n, ok := pkts[0].(*rtcp.TransportLayerNack)
			require.True(t, ok)
			require.Equal(t, uint32(11), n.SenderSSRC)
			require.Equal(t, uint32(22), n.MediaSSRC)
			var got []uint16
			for _, p := range n.Nacks {
				got = append(got, p.PacketList()...)
			}
			require.Equal(t, seqs, got)
		})
	}
	require.Empty(t, appendNACK(nil, 1, 2, nil))
}

func TestAnswerHasNACK(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	audio := "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	require.True(t, answerHasNACK(head+audio+"a=rtcp-fb:111 nack\r\n"))
	require.True(t, answerHasNACK(head+audio+"a=rtcp-fb:* nack\r\n"))
	require.False(t, answerHasNACK(head+audio), "no feedback")
	require.False(t, answerHasNACK(head+audio+"a=rtcp-fb:111 nack pli\r\na=rtcp-fb:111 transport-cc\r\n"), "another kind")
	require.False(t, answerHasNACK(head+"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtcp-fb:96 nack\r\n"), "not on audio")
	require.False(t, answerHasNACK("not sdp"))
}

func TestLossTrackerAsksForGaps(t *testing.T) {
	var l lossTracker
	now := time.Now().UnixNano()
	ms := int64(time.Millisecond)
	l.packet(5, 100, now)
	require.Empty(t, l.dueAt(now))
	l.packet(5, 101, now)
	l.packet(5, 104, now+20*ms) // 102 and 103 lost
	require.Equal(t, []uint16{102, 103}, l.dueAt(now+20*ms))
	require.Empty(t, l.dueAt(now+30*ms), "asked already")
	l.packet(5, 102, now+35*ms) // 102 came back
	require.Equal(t, []uint16{103}, l.dueAt(now+20*ms+int64(nackRetryAfter)), "asked again")
	require.Empty(t, l.dueAt(now+200*ms), "asked maxNACKTries times")
	require.Zero(t, l.n)

	// Too old to be worth it.
	l.packet(5, 107, now+300*ms)
	l.packet(5, 108, now+300*ms)
	require.Empty(t, l.dueAt(now+300*ms+int64(nackMaxAge)+1))

	// A jump past maxNACKGap asks for nothing; a sequence wraps.
	l.packet(5, 108+maxNACKGap+2, now+time.Second.Nanoseconds())
	require.Empty(t, l.dueAt(now+time.Second.Nanoseconds()))
	l.packet(7, 65535, now+2*time.Second.Nanoseconds())
	l.packet(7, 1, now+2*time.Second.Nanoseconds())
	require.Equal(t, []uint16{0}, l.dueAt(now+2*time.Second.Nanoseconds()))
	// Another stream starts afresh.
	l.packet(6, 500, now+3*time.Second.Nanoseconds())
	l.packet(6, 502, now+3*time.Second.Nanoseconds())
	require.Equal(t, []uint16{501}, l.dueAt(now+3*time.Second.Nanoseconds()))
}

func TestLossTrackerIsBounded(t *testing.T) {
	var l lossTracker
	now := time.Now().UnixNano()
	l.packet(1, 0, now)
	for seq := uint16(2); seq < 100; seq += 2 { // every other packet lost
		l.packet(1, seq, now)
	}
	due := l.dueAt(now)
	require.Len(t, due, maxMissing)
	require.Equal(t, uint16(97-2*(maxMissing-1)), due[0], "the newest are kept")
	require.Equal(t, uint16(97), due[maxMissing-1])
}

func TestLossTrackerAllocatesNothing(t *testing.T) {
	var l lossTracker
	now := time.Now().UnixNano()
	seq := uint16(0)
	allocs := leastAllocsPerRun(1000, func() {
		seq += 2
		now += int64(20 * time.Millisecond)
		l.packet(1, seq, now)
		l.dueAt(now)
	})
	require.Zero(t, allocs)
}
