package loadgencmd

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
)

func TestRunNetworkFlags(t *testing.T) {
	var got *RunOptions
	capture := func(o *RunOptions) error { got = o; return nil }
	require.NoError(t, execute(NewCmdRun(runFactory(), capture), "--loss", "5%", "--burst-loss", "0.02", "--burst-length", "4",
		"--jitter", "20ms", "--reorder", "1%", "--seed", "7"))
	require.Equal(t, loadgen.Network{Loss: 0.05, BurstLoss: 0.02, BurstLength: 4, Jitter: 20 * time.Millisecond, Reorder: 0.01, Seed: 7}, got.Scenario.Network)

	require.NoError(t, execute(NewCmdRun(runFactory(), capture)))
	require.Equal(t, loadgen.Network{Seed: 1}, got.Scenario.Network, "clean by default, seed 1")
	require.True(t, got.Scenario.NACK, "NACK answered by default")
	require.True(t, got.Scenario.RED, "RED answered by default")
	require.NoError(t, execute(NewCmdRun(runFactory(), capture), "--nack=false"))
	require.False(t, got.Scenario.NACK)
	require.NoError(t, execute(NewCmdRun(runFactory(), capture), "--red=false"))
	require.False(t, got.Scenario.RED)
	require.True(t, got.Scenario.NACK)

	err := execute(NewCmdRun(runFactory(), capture), "--loss", "lots")
	require.ErrorContains(t, err, `"lots" is not a ratio`)
	err = execute(NewCmdRun(runFactory(), capture), "--loss", "5%", "--transport", "tcp")
	require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(err))
	require.ErrorContains(t, err, "UDP sockets")
}

func TestRunNetworkFromScenarioAndFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "scenario.yaml")
	require.NoError(t, os.WriteFile(file, []byte("loss: 10%\njitter: 30ms\nseed: 5\n"), 0o600))
	var got *RunOptions
	capture := func(o *RunOptions) error { got = o; return nil }
	require.NoError(t, execute(NewCmdRun(runFactory(), capture), "--scenario", file))
	require.Equal(t, loadgen.Network{Loss: 0.10, Jitter: 30 * time.Millisecond, Seed: 5}, got.Scenario.Network)
	require.NoError(t, execute(NewCmdRun(runFactory(), capture), "--scenario", file, "--loss", "2%", "--seed", "6"))
	require.Equal(t, loadgen.Network{Loss: 0.02, Jitter: 30 * time.Millisecond, Seed: 6}, got.Scenario.Network, "flags win over the file")
}

func TestCalibrateNetworkFlags(t *testing.T) {
	var got *CalibrateOptions
	capture := func(o *CalibrateOptions) error { got = o; return nil }
	f := runFactory()
	f.Environ = func() []string {
		return []string{"VOICECTL_AUTH_SECRET=0123456789abcdef0123", "VOICECTL_AUTH_ADMIN_KEY=k"}
	}
	require.NoError(t, execute(NewCmdCalibrate(f, capture), "--loss", "5%", "--burst-loss", "3%", "--seed", "2"))
	require.Equal(t, loadgen.Network{Loss: 0.05, BurstLoss: 0.03, Seed: 2}, got.Params.Scenario.Network)
	err := execute(NewCmdCalibrate(f, capture), "--burst-loss", "3%", "--burst-length", "0.5")
	require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(err))
}
