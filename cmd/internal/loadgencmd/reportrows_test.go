package loadgencmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/loadgen"
)

func byWorkerReport() loadgen.Report {
	return loadgen.Report{
		PeersJoined:          4,
		LatencyMsP50:         0.2,
		LatencyMsP50ByWorker: map[string]float64{"1": 0.3, "10": 2.5, "0": 0.15249, "2": 1},
		LatencyMsP99ByWorker: map[string]float64{"0": 0.9},
		ListenerGapsMs:       map[string]float64{"alice": 20},
	}
}

func TestReportRowsRenderMapsAsSortedPairs(t *testing.T) {
	rows := reportRows(byWorkerReport())
	require.Contains(t, rows, []string{"latency_ms_p50_by_worker", "0=0.1525 1=0.3 2=1 10=2.5"}, "keys in number order, values as the other floats")
	require.Contains(t, rows, []string{"latency_ms_p99_by_worker", "0=0.9"})
	require.Contains(t, rows, []string{"latency_ms_p50", "0.2"})
	for _, row := range rows {
		require.NotContains(t, row[1], "map[", row[0])
		require.NotEqual(t, "listener_gaps_ms", row[0], "one per listener: -o json only")
	}

	for _, row := range reportRows(loadgen.Report{PeersJoined: 3}) {
		require.NotContains(t, row[0], "by_worker", "no admin API, no rows, as -o json omits them")
	}
}

func TestReportRowsJoinScalarLists(t *testing.T) {
	rows := reportRows(loadgen.SoakReport{Joins: 2, Failed: []string{"loss 2% above 1%", "rejoin max 9s"}, Kills: []loadgen.SoakKill{{PID: 7}}})
	require.Contains(t, rows, []string{"failed", "loss 2% above 1%; rejoin max 9s"})
	require.Contains(t, rows, []string{"kills", "1"}, "a list of structs is counted")
	for _, row := range reportRows(loadgen.SoakReport{}) {
		require.NotEqual(t, "failed", row[0], "nothing failed: no row, as -o json omits it")
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2", "10", -1},
		{"10", "2", 1},
		{"7", "7", 0},
		{"s/9", "s/10", -1},
		{"a/10", "b/2", -1},
		{"w", "w1", -1},
		{"", "0", -1},
		{"x2y", "x2z", -1},
		{"abc", "abd", -1},
	} {
		require.Equal(t, tc.want, naturalCompare(tc.a, tc.b), "%q vs %q", tc.a, tc.b)
		require.Equal(t, -tc.want, naturalCompare(tc.b, tc.a), "%q vs %q", tc.b, tc.a)
	}
}

func TestPrintReportTableAndJSON(t *testing.T) {
	r := byWorkerReport()
	var out bytes.Buffer
	ios := &cmdutil.IOStreams{Out: &out, IsTerminal: true}
	require.NoError(t, printReport(ios, cmdutil.FormatTable, r))
	require.Regexp(t, `(?m)^\s*latency_ms_p50_by_worker\s+0=0\.1525 1=0\.3 2=1 10=2\.5\s*$`, out.String())
	require.NotContains(t, out.String(), "map[")
	require.Contains(t, out.String(), "METRIC")

	out.Reset()
	ios.IsTerminal = false
	require.NoError(t, printReport(ios, cmdutil.FormatTable, r))
	require.Contains(t, strings.Split(out.String(), "\n"), "latency_ms_p99_by_worker\t0=0.9")

	out.Reset()
	require.NoError(t, printReport(ios, cmdutil.FormatJSON, r))
	var got map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	require.Equal(t, map[string]any{"0": 0.15249, "1": 0.3, "10": 2.5, "2": 1.0}, got["latency_ms_p50_by_worker"], "-o json keeps the map")
	require.Equal(t, map[string]any{"alice": 20.0}, got["listener_gaps_ms"])
}
