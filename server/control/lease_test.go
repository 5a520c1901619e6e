package control

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
)

// TestTheLeaseProbeNeedsTheAPIsToken: only a token signed with the
// cluster's secret for cluster.LeaseRoom renews the lease (a health check
// or a join token does not), and the answer names the server.
func TestTheLeaseProbeNeedsTheAPIsToken(t *testing.T) {
	br := rabbittest.Shared(t)
	// A lease of 9 s, not the harness's 1 s: beside the suite a second
	// passed between the probe and the look at the lease, and it lapsed.
	cfg := clusterConfig(10)
	cfg.Cluster.Heartbeat, cfg.Cluster.DeadAfter = time.Second, 10*time.Second
	s := startClusterServer(t, br, "127.0.0.11", cfg, t.TempDir())
	probe := func(room string) (int, cluster.LeaseAnswer) {
		req, err := http.NewRequest("GET", s.url+cluster.LeasePath, nil)
		require.NoError(t, err)
		if room != "" {
			tok, err := auth.Sign(s.c.Secret(), auth.Grant{Room: room, Identity: "api", Expires: time.Now().Add(time.Minute)})
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var ans cluster.LeaseAnswer
		if resp.StatusCode == http.StatusOK {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
		}
		return resp.StatusCode, ans
	}
	code, _ := probe("")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = probe("standup")
	require.Equal(t, http.StatusUnauthorized, code, "a join token renews no lease")
	code, ans := probe(cluster.LeaseRoom)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, s.id, ans.Server)
	require.WithinDuration(t, time.Now().Add(cluster.Lease(s.c.cfg.Cluster.Heartbeat, s.c.cfg.Cluster.DeadAfter)), ans.Until, time.Second)
	require.True(t, s.c.agent.Leased())
	mfs, err := s.c.gatherer.Gather()
	require.NoError(t, err)
	held := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "voicectl_server_lease_held" {
			held = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	require.Equal(t, 1.0, held, "voicectl_server_lease_held")
}
