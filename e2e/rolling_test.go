package e2e

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/internal/rabbittest"
)

// restartStep is one server of `voicectl servers restart -o json`.
type restartStep struct {
	Server           string  `json:"server"`
	Peers            int     `json:"peers"`
	BackAfterSeconds float64 `json:"back_after_seconds"`
}

// TestRollingRestartUnderLoad: `voicectl servers restart --rolling` drains
// three servers one at a time while a loadgen run through the API goes on;
// the test plays the supervisor (systemd Restart=always) and starts each
// server again, same data dir (same id) and address, when it exits. No
// listener goes 5 s without audio (loadgen --max-gap, from its report's
// per-listener gaps), every peer followed its room at least once, and every
// server came back.
func TestRollingRestartUnderLoad(t *testing.T) {
	t.Parallel()
	br := rabbittest.Shared(t)
	env := []string{"VOICECTL_DRAIN_DEADLINE=20s"}
	dirs := make([]string, len(hostIPs))
	start := func(i int) *host {
		return startHostArgs(t, br.URL, i, env, "--data-dir", dirs[i], "--http-addr", hostIPs[i]+":7890")
	}
	hosts := make([]*host, len(hostIPs))
	for i := range hostIPs {
		dirs[i] = t.TempDir()
		hosts[i] = start(i)
	}
	api := startAPI(t, br.URL, t.TempDir())
	identify(t, api, hosts)

	const peers = 3 * (2 + 4)
	run := cliAsync(nil, "loadgen", "run", "--api", api.base, "--api-key", clusterAPIKey, "--loopback-only",
		"--rooms", "3", "--publishers", "2", "--listeners", "4", "--join-rate", "30", "--warmup", "2s", "--duration", "15s",
		"--max-gap", "5s", "-o", "json")
	require.Eventually(t, func() bool {
		n := 0
		for _, s := range api.liveServers(t) {
			n += s.Peers
		}
		return n == peers
	}, 30*time.Second, 100*time.Millisecond, "the loadgen peers joined")
	time.Sleep(2500 * time.Millisecond) // inside the measurement window

	began := time.Now()
	restart := cliAsync(append(os.Environ(), "VOICECTL_AUTH_API_KEY="+clusterAPIKey), "servers", "restart", "--rolling",
		"--deadline", "20s", "--wait", "60s", "--api", api.base, "-o", "json")
	restarted := 0
	var res cliResult
supervise:
	for {
		select {
		case res = <-restart:
			break supervise
		case <-time.After(50 * time.Millisecond):
		}
		for i, h := range hosts {
			select {
			case <-h.done:
				hosts[i] = start(i)
				restarted++
			default:
			}
		}
	}
	took := time.Since(began)
	require.NoError(t, res.err)
	require.Zero(t, res.code, res.stderr)
	var steps []restartStep
	require.NoError(t, json.Unmarshal([]byte(res.out), &steps), res.out)
	require.Len(t, steps, 3)
	require.Equal(t, 3, restarted, "each server exited once, after its drain")
	for _, st := range steps {
		t.Logf("server %s: %d peers, back after %.1f s", st.Server, st.Peers, st.BackAfterSeconds)
		require.Less(t, st.BackAfterSeconds, 20.0, "it drained before its deadline")
	}
	t.Logf("rolling restart of 3 servers under %d peers: %s", peers, took)
	require.Len(t, api.liveServers(t), 3, "every server is back")

	var lg cliResult
	select {
	case lg = <-run:
		t.Fatal("the loadgen window ended before the rolling restart did: its gaps do not cover it")
	default:
		lg = <-run
	}
	require.NoError(t, lg.err)
	require.Zero(t, lg.code, lg.stderr)
	r := loadReport(t, lg.out)
	require.Equal(t, peers, r.PeersJoined)
	require.Len(t, r.ListenerGapsMs, 12, "a gap per listener")
	require.Less(t, r.ListenerGapMsMax, 5000.0)
	require.Equal(t, peers, r.PeersRejoined, "every peer followed its room at least once")
	t.Logf("listener gaps over the rolling restart: p50 %.0f ms, max %.0f ms; %d rejoins", r.ListenerGapMsP50, r.ListenerGapMsMax, r.Rejoins)
}
