package loadgen

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func soakSamples(n int, rss func(i int) uint64) []SoakSample {
	out := make([]SoakSample, n)
	for i := range out {
		out[i] = SoakSample{Seconds: float64(i * 10), Peers: 32, ServerRSS: rss(i), ServerGoroutines: 200, ServerOpenFiles: 60, ServerHeap: 10 << 20,
			WorkersRSS: 2 * rss(i), WorkersGoroutines: 30, WorkersOpenFiles: 40, WorkersHeap: 12 << 20, ServerAllocsPerS: 5000, WorkersAllocsPerS: 100}
	}
	return out
}

func TestGrowthChecksHoldForAFlatRun(t *testing.T) {
	sc := DefaultSoak()
	sc.Warmup = 30 * time.Second
	flat := soakSamples(40, func(i int) uint64 { return 30<<20 + uint64(i%3)<<20 })
	for _, c := range growthChecks(flat, sc) {
		require.True(t, c.OK, "%+v", c)
	}
	// A restarted worker's dip does not count either way.
	flat[30].WorkersRSS = 1 << 20
	for _, c := range growthChecks(flat, sc) {
		require.True(t, c.OK, "%+v", c)
	}
}

func TestGrowthChecksCatchALeak(t *testing.T) {
	sc := DefaultSoak()
	sc.Warmup = 30 * time.Second
	leak := soakSamples(40, func(i int) uint64 { return 30<<20 + uint64(i)<<20 }) // 1 MiB per sample
	failed := map[string]bool{}
	for _, c := range growthChecks(leak, sc) {
		failed[c.Figure] = !c.OK
	}
	require.True(t, failed["server_rss_bytes"])
	require.True(t, failed["workers_rss_bytes"])
	require.False(t, failed["server_goroutines"])
	r := SoakReport{Checks: growthChecks(leak, sc), Samples: leak, ListenerAdmissions: 3, Joins: 10}
	require.Contains(t, strings.Join(sc.verdict(r), "; "), "server_rss_bytes grew")
}

func TestSoakVerdictJudgesLossAndJoins(t *testing.T) {
	sc := DefaultSoak()
	r := SoakReport{Samples: soakSamples(8, func(int) uint64 { return 1 << 20 }), ListenerAdmissions: 5,
		WorstListenerLoss: 0.004, Joins: 100, Failures: 2}
	require.Empty(t, sc.verdict(r))
	r.WorstListenerLoss = 0.006
	r.Failures = 3
	v := strings.Join(sc.verdict(r), "; ")
	require.Contains(t, v, "a listener lost 0.600%")
	require.Contains(t, v, "3 of 103 joins failed")
}

func TestSoakCSV(t *testing.T) {
	samples := soakSamples(30, func(i int) uint64 { return 30 << 20 })
	var csvOut bytes.Buffer
	require.NoError(t, WriteSoakCSV(&csvOut, samples))
	lines := strings.Split(strings.TrimSpace(csvOut.String()), "\n")
	require.Len(t, lines, 31)
	require.Equal(t, strings.Join(soakColumns, ","), lines[0])
	require.Equal(t, "10.0,32,31457280,200,60,10485760,5000,62914560,30,40,12582912,100,0", lines[2])
}

func TestSoakScenarioValidate(t *testing.T) {
	sc := DefaultSoak()
	sc.Secret, sc.AdminKey = "0123456789abcdef", "k"
	require.NoError(t, sc.Validate())
	sc.LifeMax = 30 * time.Minute
	sc.AdminKey = ""
	err := sc.Validate()
	require.ErrorContains(t, err, "life_max <= 20m")
	require.ErrorContains(t, err, "admin_key is required")
}

// A join that fails while a worker is being killed or restarted met the
// kill (a rejoin, counted apart); one that fails outside every kill is a
// failure.
func TestSoakJoinCutByAKillIsNoFailure(t *testing.T) {
	k := &soak{log: slog.New(slog.DiscardHandler)}
	t0 := time.Now()
	k.kills = []killSpan{{from: t0.Add(10 * time.Second), to: t0.Add(11 * time.Second)}, {from: t0.Add(30 * time.Second)}}
	for _, c := range []struct {
		name     string
		from, to time.Duration
		cut      bool
	}{
		{"before every kill", 0, 9 * time.Second, false},
		{"its DTLS met the kill", 9 * time.Second, 10500 * time.Millisecond, true},
		{"began during the restart", 10500 * time.Millisecond, 12 * time.Second, true},
		{"between the kills", 12 * time.Second, 20 * time.Second, false},
		{"the slot not ready yet", 31 * time.Second, 40 * time.Second, true},
	} {
		require.Equal(t, c.cut, k.cutByKill(t0.Add(c.from), t0.Add(c.to), errors.New("media did not connect")), c.name)
	}
	require.Equal(t, 3, k.rep.JoinsCutByKill)
	require.Zero(t, k.rep.Failures)
}
