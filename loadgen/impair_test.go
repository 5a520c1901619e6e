package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
)

func TestParseRatio(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "0.5%": 0.005, "0.05": 0.05, " 10 % ": 0.10, "0": 0} {
		got, err := ParseRatio(in)
		require.NoError(t, err, in)
		require.InDelta(t, want, float64(got), 1e-12, in)
	}
	for _, in := range []string{"", "five", "100%", "1", "-1%", "5%%"} {
		_, err := ParseRatio(in)
		require.Error(t, err, in)
	}
	require.Equal(t, "5%", Ratio(0.05).String())
}

func TestScenarioNetworkKeys(t *testing.T) {
	sc := DefaultScenario()
	sc.Secret = "0123456789abcdef"
	require.Equal(t, uint64(1), sc.Network.Seed, "deterministic by default")
	require.Nil(t, sc.Network.impairment("lg-1-sub"), "a clean network impairs nothing")
	require.NoError(t, ParseScenario([]byte("loss: 5%\nburst_loss: 0.02\nburst_length: 4\njitter: 20ms\nreorder: 1%\nseed: 9\n"), &sc))
	require.Equal(t, Network{Loss: 0.05, BurstLoss: 0.02, BurstLength: 4, Jitter: 20 * time.Millisecond, Reorder: 0.01, Seed: 9}, sc.Network)
	require.NoError(t, sc.Validate())

	bad := sc
	require.Error(t, ParseScenario([]byte("loss: lots\n"), &bad))
	bad = sc
	bad.Network.BurstLength = 0.5
	require.ErrorIs(t, bad.Validate(), client.ErrImpairment)
	bad = sc
	bad.Transport = client.TransportTCP
	require.ErrorIs(t, bad.Validate(), errImpairedTransport, "the impairment is in the UDP sockets")
	bad.Transport = client.TransportUDP
	require.NoError(t, bad.Validate())
}

func TestNetworkImpairmentSeedsEachPeer(t *testing.T) {
	n := Network{Loss: 0.05, Seed: 3}
	a, b := n.impairment("lg-1-pub"), n.impairment("lg-2-sub")
	require.Equal(t, a, n.impairment("lg-1-pub"), "same seed and peer: same impairment")
	require.NotEqual(t, a.Seed, b.Seed, "peers draw from their own generators")
	n.Seed = 4
	require.NotEqual(t, a.Seed, n.impairment("lg-1-pub").Seed)
	require.Equal(t, 0.05, a.Loss)
}

// TestRawAndResidualLoss: a listener's raw loss counts the first copies
// dropped on either hop; without retransmissions residual equals raw, and a
// retransmission that comes lowers residual and counts as one.
func TestRawAndResidualLoss(t *testing.T) {
	pub := &peer{publish: true}
	lis := &peer{streams: map[uint32]*stream{}}
	const ssrc = 77
	now := time.Now()
	tap := lis.tap(1000)
	for seq := uint16(65530); seq != 70; seq++ { // across the wrap
		switch {
		case seq%10 == 3:
			pub.onImpairDrop(true, ssrc, seq) // never reached the server
		case seq%10 == 7:
			lis.onImpairDrop(false, ssrc, seq) // the listener's socket took it
		default:
			tap(ssrc, seq, uint32(seq)*960, 100, now)
		}
	}
	st := lis.stream(ssrc)
	from, to := uint16(65530), uint16(70)
	raw, other := rawLost(pub, st, from, to)
	residual := seqCount(from, to) - st.countRange(from, to)
	require.Equal(t, uint64(15), raw, "76 packets: 8 dropped going out, 7 coming in")
	require.Zero(t, other)
	require.Equal(t, raw, residual, "nothing recovers: residual is raw")
	require.Zero(t, lis.retrans.Load())

	// A NACK answered: seq 7 comes after all, and a duplicate of 8.
	tap(ssrc, 7, 7*960, 100, now)
	tap(ssrc, 8, 8*960, 120, now)
	require.Equal(t, uint64(2), lis.retrans.Load())
	require.Equal(t, uint64(220), lis.retransBytes.Load())
	raw2, _ := rawLost(pub, st, from, to)
	require.Equal(t, raw, raw2, "raw counts first copies: a retransmission leaves it")
	require.Equal(t, residual-1, seqCount(from, to)-st.countRange(from, to))

	// A packet neither dropped nor received is the server's loss.
	_, other = rawLost(pub, st, to, to+5)
	require.Equal(t, uint64(5), other)

	r := Report{PacketsExpected: seqCount(from, to), PacketsReceived: st.countRange(from, to)}
	r.LossRatio = 1 - float64(r.PacketsReceived)/float64(r.PacketsExpected)
	nr := Network{Loss: 0.05}.report(r, raw, 0, networkCounters{}, networkCounters{retrans: 2, retransBytes: 220, rxBytes: 2200})
	require.Equal(t, uint64(1), nr.RecoveredPackets)
	require.Equal(t, raw-1, nr.ResidualLostPackets)
	require.InDelta(t, 0.1, nr.RetransmissionByteRatio, 1e-9)
	require.InDelta(t, float64(raw)/float64(r.PacketsExpected), nr.RawLossRatio, 1e-12)
	r.Network = nr
	require.Zero(t, r.serverLossRatio(), "on an impaired network the server is judged by what no impairment explains")
}

func TestSeqBitsForgetAhead(t *testing.T) {
	var st stream
	now := time.Now()
	for i := range 70000 { // past a wrap
		st.add(uint16(i), uint32(i)*960, now)
	}
	// Numbers set a wrap ago, forgetAhead ahead of the last, are gone.
	last := uint16(70000 - 1 - 65536)
	require.False(t, st.seen.has(last+forgetAhead))
	require.True(t, st.seen.has(last-100))
	require.False(t, st.add(last+1, 0, now), "a new number is no retransmission after the wrap")
}
