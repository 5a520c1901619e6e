package e2e

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/loadgen"
)

// TestSoakShortRunKillsAWorkerAndJudgesIt is `make soak` in small: 40 s of
// churn against a real server, one worker SIGKILLed; the report counts the
// kill and the rejoins, every check holds, and the CSV and plot are written.
// Its bounds are loose (the test shares the machine with the rest of make
// test); the soak's own figures come from make soak.
func TestSoakShortRunKillsAWorkerAndJudgesIt(t *testing.T) {
	t.Parallel()
	_, env := startLoadServer(t, 2)
	dir := t.TempDir()
	csvPath, plotPath := filepath.Join(dir, "soak.csv"), filepath.Join(dir, "soak.png")
	out, stderr, code := cli(t, env, "loadgen", "soak", "--length", "40s", "--warmup", "6s", "--rooms", "2", "--publishers", "1",
		"--listeners", "3", "--life-min", "8s", "--life-max", "14s", "--kill-every", "15s", "--sample-every", "2s",
		"--max-loss", "0.05", "--max-growth", "1", "--csv", csvPath, "--plot", plotPath, "-o", "json")
	var r loadgen.SoakReport
	require.NoError(t, json.Unmarshal([]byte(out), &r), out+stderr)
	require.Zero(t, code, "%s\n%s", out, stderr)
	require.Empty(t, r.Failed)
	require.NotEmpty(t, r.Kills, "a worker was killed")
	require.Positive(t, r.Kills[0].RestartMs, "and came back")
	require.Positive(t, r.Rejoins, "its peers rejoined")
	require.Greater(t, r.Joins, 8, "peers came and went")
	require.Positive(t, r.ListenerAdmissions)
	require.Positive(t, r.PacketsExpected)
	require.LessOrEqual(t, r.WorstListenerLoss, 0.05)
	require.Len(t, r.Checks, 8)
	for _, c := range r.Checks {
		require.True(t, c.OK, "%+v", c)
		require.Positive(t, c.Start+c.End+c.Baseline, "%s was read", c.Figure)
	}

	f, err := os.Open(csvPath)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(rows), 15, "a sample every 2 s for 40 s, and the header")
	require.Equal(t, "server_rss_bytes", rows[0][2])
	require.NotEqual(t, "0", rows[1][2], "the server's RSS")
	require.NotEqual(t, "0", rows[1][8], "the workers' goroutines")
	img, err := os.Open(plotPath)
	require.NoError(t, err)
	defer img.Close()
	_, err = png.DecodeConfig(img)
	require.NoError(t, err)
}

// TestSoakWithoutAdminKeyIsAUsageError: the soak samples through the admin API.
func TestSoakWithoutAdminKeyIsAUsageError(t *testing.T) {
	t.Parallel()
	_, stderr, code := cli(t, []string{"VOICECTL_AUTH_SECRET=" + lgSecret}, "loadgen", "soak", "--length", "1m")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "admin_key is required")
}
