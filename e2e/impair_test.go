package e2e

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/loadgen"
)

// TestLoadgenImpairedNetworkSplitsLoss: loadgen's peers drop 5% of their
// media at random on their own sockets, both ways, against a real server.
// A listener hears a publisher through two impaired hops, so raw loss is
// near 1-(0.95)² ≈ 9.75%; nothing recovers (RED and NACK refused:
// --red=false --nack=false), so residual loss is exactly raw and nothing
// else is lost.
func TestLoadgenImpairedNetworkSplitsLoss(t *testing.T) {
	t.Parallel()
	_, env := startLoadServer(t, 1)
	run := func(prefix string) (raw, residual float64) {
		t.Helper()
		out, stderr, code := cli(t, env, "loadgen", "run", "--rooms", "1", "--publishers", "2", "--listeners", "4",
			"--duration", "6s", "--warmup", "1s", "--loss", "5%", "--seed", "1", "--nack=false", "--red=false", "--room-prefix", prefix, "-o", "json")
		require.Zero(t, code, stderr)
		r := loadReport(t, out)
		require.Zero(t, r.PeersFailed, out)
		require.Zero(t, r.ListenersMissingStreams, out)
		n := r.Network
		require.NotNil(t, n, out)
		require.Equal(t, 0.05, n.Loss)
		require.Greater(t, r.PacketsExpected, uint64(2500), out)
		require.InDelta(t, 1-0.95*0.95, n.RawLossRatio, 0.025, out)
		require.Equal(t, n.RawLostPackets, n.ResidualLostPackets, "no RED or NACK: residual is raw: %s", out)
		require.InDelta(t, r.LossRatio, n.ResidualLossRatio, 1e-12)
		require.Zero(t, n.OtherLostPackets, "every loss is the impairment's: %s", out)
		require.Zero(t, n.RecoveredPackets)
		require.Zero(t, n.RetransmissionsReceived)
		require.Zero(t, n.ListenersNACKing)
		require.Zero(t, n.NACKedPackets)
		require.Zero(t, n.ListenersRED)
		require.Zero(t, n.REDRecoveredPackets)
		require.Positive(t, n.Impaired.RTPSentDropped, "publishers' sockets dropped on the way out")
		require.Positive(t, n.Impaired.RTPReceivedDropped, "listeners' sockets dropped on the way in")
		require.Positive(t, n.BytesReceived)
		return n.RawLossRatio, n.ResidualLossRatio
	}
	raw, residual := run("impaired")
	require.GreaterOrEqual(t, residual, 0.0)
	require.InDelta(t, raw, residual, 1e-12)
}

// TestLoadgenNACKRecoversImpairedLoss: with NACK answered (the default) and
// offered by the worker, the listeners ask for what their sockets dropped and
// the publishers answer the worker's NACKs for what theirs dropped: residual
// loss at 5% per hop falls far below raw, and what came again is counted.
func TestLoadgenNACKRecoversImpairedLoss(t *testing.T) {
	t.Parallel()
	_, env := startLoadServer(t, 1)
	out, stderr, code := cli(t, env, "loadgen", "run", "--rooms", "1", "--publishers", "2", "--listeners", "4",
		"--duration", "6s", "--warmup", "1s", "--loss", "5%", "--seed", "1", "--red=false", "--room-prefix", "nack", "-o", "json")
	require.Zero(t, code, stderr)
	r := loadReport(t, out)
	n := r.Network
	require.NotNil(t, n, out)
	require.True(t, n.NACK)
	if n.ListenersNACKing == 0 {
		t.Skip("the worker offers no NACK (rtc.nack): nothing to recover with")
	}
	require.Equal(t, 4, n.ListenersNACKing, out)
	require.InDelta(t, 1-0.95*0.95, n.RawLossRatio, 0.025, out)
	require.Less(t, n.ResidualLossRatio, n.RawLossRatio/4, "NACK recovers most of it: %s", out)
	require.Positive(t, n.RecoveredPackets)
	require.Positive(t, n.NACKedPackets)
	require.Positive(t, n.RetransmissionsReceived)
	require.Positive(t, n.RetransmissionBytes)
	require.Zero(t, n.OtherLostPackets, out)
}

// TestLoadgenREDRecoversImpairedLoss: with RED answered (the default) and
// offered by the worker, the publishers send each frame again in the next
// packet and the listeners recover what either hop dropped from it.
func TestLoadgenREDRecoversImpairedLoss(t *testing.T) {
	t.Parallel()
	_, env := startLoadServer(t, 1)
	out, stderr, code := cli(t, env, "loadgen", "run", "--rooms", "1", "--publishers", "2", "--listeners", "4",
		"--duration", "6s", "--warmup", "1s", "--loss", "5%", "--seed", "1", "--nack=false", "--room-prefix", "red", "-o", "json")
	require.Zero(t, code, stderr)
	r := loadReport(t, out)
	n := r.Network
	require.NotNil(t, n, out)
	require.True(t, n.RED)
	if n.ListenersRED == 0 {
		t.Skip("the worker offers no RED (rtc.red): nothing to recover with")
	}
	require.Equal(t, 4, n.ListenersRED, out)
	require.InDelta(t, 1-0.95*0.95, n.RawLossRatio, 0.025, out)
	require.Less(t, n.ResidualLossRatio, n.RawLossRatio/4, "RED recovers most of it: %s", out)
	require.Positive(t, n.REDRecoveredPackets)
	require.InDelta(t, float64(n.RecoveredPackets), float64(n.REDRecoveredPackets), 3+0.02*float64(n.RecoveredPackets),
		"no NACK: RED recovered all that was (frames at the window's edges aside): %s", out)
	require.Zero(t, n.RetransmissionsReceived)
	require.Zero(t, n.OtherLostPackets, out)
}

// TestLoadgenCalibrateOnAnImpairedNetwork: calibrate ramps with its peers'
// sockets dropping 5% both ways; the loss the impairment explains does not
// stop the ramp (--max-loss limits the rest), and each step reports both.
func TestLoadgenCalibrateOnAnImpairedNetwork(t *testing.T) {
	t.Parallel()
	_, env := startLoadServer(t, 1)
	out, stderr, code := cli(t, env, "loadgen", "calibrate", "--publishers", "1", "--step", "2", "--max-listeners", "4",
		"--window", "2s", "--loss", "5%", "--seed", "3", "--red=false", "--nack=false", "--max-latency-p99", calibrateLatencyLimit, "-o", "json")
	require.Zero(t, code, stderr)
	var res loadgen.CalibrateResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Len(t, res.Steps, 2, out)
	require.Contains(t, res.StopReason, "max-listeners", "5%% per hop is the network's, not the server's: %s", out)
	for _, s := range res.Steps {
		n := s.Report.Network
		require.NotNil(t, n, out)
		require.Positive(t, n.RawLostPackets, out)
		require.Equal(t, n.RawLostPackets, n.ResidualLostPackets, out)
		require.Zero(t, n.OtherLostPackets, out)
		require.Greater(t, s.Report.LossRatio, 0.005, "above calibrate's default --max-loss, which judges only other_loss_ratio")
	}
}
