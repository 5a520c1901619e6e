package loadgencmd

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/loadgen"
)

func TestReportRowsFlattenTheIdleSection(t *testing.T) {
	rows := reportRows(loadgen.Report{PeersJoined: 3, Idle: &loadgen.IdleReport{Seconds: 5, BackgroundCPUMillisPerSecond: 19.75}})
	require.Contains(t, rows, []string{"peers_joined", "3"})
	require.Contains(t, rows, []string{"idle.seconds", "5"})
	require.Contains(t, rows, []string{"idle.background_cpu_ms_per_second", "19.75"})

	for _, row := range reportRows(loadgen.Report{PeersJoined: 3}) {
		require.NotContains(t, row[0], "idle", "no idle window, no idle rows")
	}
}
