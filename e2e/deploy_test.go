package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/voicectl/voicectl/internal/rabbittest"
)

// clusterMetricNames are the metric names a live scrape of a cluster has: a
// server in cluster mode (everything a single server exports, and its bus
// and relay metrics) and the API.
func clusterMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	br := rabbittest.Shared(t)
	h := startHost(t, br.URL, 0)
	api := startAPI(t, br.URL, t.TempDir())
	identify(t, api, []*host{h})
	names := map[string]bool{}
	for _, base := range []string{h.base, api.base} {
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		for _, m := range metricName.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
	}
	return names
}

var metricIdent = regexp.MustCompile(`\b(voicectl|go|process)_[a-zA-Z0-9_]+`)

// TestAlertRulesAndClusterDashboardNameLiveMetrics: the alert rules pass
// promtool, and every metric an alert or a dashboard panel (the cluster row
// included) names is in a live scrape of a cluster's server and API, so no
// alert or panel is silently empty.
func TestAlertRulesAndClusterDashboardNameLiveMetrics(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("promtool", "check", "rules", "../configs/prometheus/alerts.yml").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "SUCCESS")

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	raw, err := os.ReadFile("../configs/prometheus/alerts.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &rules))
	exprs := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	for _, want := range []string{"VoicectlServerDown", "VoicectlStressOverHighWater", "VoicectlNoCapacityRising", "VoicectlWorkerRestarts", "VoicectlBusDisconnected"} {
		require.Contains(t, exprs, "alert "+want)
	}

	var dash struct {
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
	}
	raw, err = os.ReadFile("../configs/grafana/voicectl.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &dash))
	rows := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			rows++
			continue
		}
		for _, tg := range p.Targets {
			exprs["panel "+p.Title] = tg.Expr
		}
	}
	require.Equal(t, 1, rows, "the cluster row")

	names := clusterMetricNames(t)
	for what, e := range exprs {
		found := metricIdent.FindAllString(e, -1)
		require.NotEmpty(t, found, "%s names no metric: %s", what, e)
		for _, n := range found {
			require.True(t, names[n], "%s (%s) names %s, which a live cluster scrape lacks", what, e, n)
		}
	}
}
