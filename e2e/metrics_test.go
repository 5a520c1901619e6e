package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// devJoin joins with a token from the dev endpoint.
func devJoin(t *testing.T, s *server, room, name string, publish bool) *client.Client {
	t.Helper()
	pub := "1"
	if !publish {
		pub = "0"
	}
	resp, err := http.Get(s.base + "/v1/dev/token?" + url.Values{"room": {room}, "identity": {name}, "publish": {pub}}.Encode())
	require.NoError(t, err)
	var body struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	_ = resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Config{URL: s.base, Token: body.Token, Publish: publish, LoopbackOnly: true, Level: 30})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// startPrometheus runs Debian's prometheus scraping target every second.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "Prometheus is required (make test installs Debian's prometheus package)")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: voicectl
    static_configs:
      - targets: [%q]
        labels:
          server: e2e
`, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return "http://" + addr
}

var promClient = &http.Client{Timeout: 3 * time.Second}

// query asks Prometheus for one number.
func query(promURL, q string) (float64, error) {
	resp, err := promClient.Get(promURL + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Value []any `json:"value"`
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" || len(r.Data.Result) != 1 {
		return 0, fmt.Errorf("%s: status %s, %d results", q, r.Status, len(r.Data.Result))
	}
	return strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
}

func scrape(t *testing.T, s *server) string {
	resp, err := http.Get(s.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

var metricName = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)

func TestPrometheusScrapesKnownLoad(t *testing.T) {
	t.Parallel()
	// The pipe layout of TestBrowserPagesAcrossPipe: a publisher and a listener on
	// worker 0, a listener on worker 1 fed through a pipe.
	s := startServeEnv(t, []string{"VOICECTL_WORKER_MAX_CONSUMERS=3", "VOICECTL_WORKER_PIPE_HEADROOM=0.3"}, "--workers", "2")
	pub := devJoin(t, s, "m", "speaker", true)
	near := devJoin(t, s, "m", "near", false)
	far := devJoin(t, s, "m", "far", false)
	for _, l := range []*client.Client{near, far} {
		require.Eventually(t, func() bool { return l.Received(pub.PeerID()) > 20 }, 10*time.Second, 50*time.Millisecond)
	}
	// A refused join and a signalling error, so those families have samples.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.Connect(ctx, client.Config{URL: s.base, Token: "bad"})
	require.Error(t, err)
	require.NoError(t, near.SendRaw([]byte(`{"type":"nonsense"}`)))

	prom := startPrometheus(t, strings.TrimPrefix(s.base, "http://"))
	want := map[string]float64{
		`voicectl_server_rooms{server="e2e"}`:                       1,
		`voicectl_server_peers{server="e2e"}`:                       3,
		`sum(voicectl_worker_up{server="e2e"})`:                     2,
		`sum(voicectl_worker_transports)`:                           3,
		`voicectl_worker_transports{worker="1"}`:                    1,
		`sum(voicectl_worker_routers)`:                              2,
		`sum(voicectl_worker_pipe_transports)`:                      2,
		`voicectl_worker_pipe_consumers{worker="0"}`:                1,
		`voicectl_worker_pipe_producers{worker="1"}`:                1,
		`voicectl_worker_producers{worker="0"}`:                     1,
		`voicectl_worker_consumers{worker="0"}`:                     1,
		`voicectl_worker_consumers{worker="1"}`:                     1,
		`voicectl_worker_load_units{worker="0"}`:                    3,
		`voicectl_worker_capacity_units{worker="1"}`:                3,
		`voicectl_signal_errors_total{code="unknown_type"}`:         1,
		`voicectl_signal_join_duration_seconds_count{server="e2e"}`: 3,
		// Labelled counters whose labels are known exist from the start, at 0.
		`count(voicectl_signal_errors_total)`:               float64(len(wire.Codes)),
		`count(voicectl_signal_limited_total)`:              10,
		`count(voicectl_signal_resumes_total)`:              4,
		`sum(voicectl_signal_limited_total)`:                0,
		`voicectl_signal_errors_total{code="join_timeout"}`: 0,
	}
	require.Eventually(t, func() bool {
		for q, v := range want {
			got, err := query(prom, q)
			if err != nil || got != v {
				return false
			}
		}
		return true
	}, 60*time.Second, time.Second, "scrape:\n%s", grepLines(scrape(t, s), "voicectl_worker"))
	require.Eventually(t, func() bool {
		in, err1 := query(prom, `sum(rate(voicectl_worker_packets_received_total[5s]))`)
		out, err2 := query(prom, `sum(rate(voicectl_worker_packets_forwarded_total[5s]))`)
		// One publisher at 50 packets/s is received twice (from the peer on worker 0
		// and from the pipe on worker 1) and forwarded three times (to the near
		// listener, into the pipe, and to the far listener).
		// The publisher's packets are decrypted by worker 0's sockets themselves,
		// past pion (the pipe's copies on worker 1 are not SRTP).
		taken, err3 := query(prom, `sum(rate(voicectl_worker_ingress_rtp_packets_total{worker="0"}[5s]))`)
		return err1 == nil && err2 == nil && err3 == nil && in > 80 && in < 120 && out > 110 && out < 190 && taken > 40 && taken < 60
	}, 20*time.Second, time.Second)

	body := scrape(t, s)
	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.Command("promtool", "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool: %s", out)
	})
	t.Run("dashboard names only scraped metrics", func(t *testing.T) {
		names := map[string]bool{}
		for _, m := range metricName.FindAllStringSubmatch(body, -1) {
			names[m[1]] = true
		}
		raw, err := os.ReadFile("../configs/grafana/voicectl.json")
		require.NoError(t, err)
		var dash struct {
			Panels []struct {
				Title   string
				Type    string
				Targets []struct{ Expr string }
			}
			Templating struct {
				List []struct {
					Type  string
					Query any
				}
			}
		}
		require.NoError(t, json.Unmarshal(raw, &dash))
		require.NotEmpty(t, dash.Panels)
		ident := regexp.MustCompile(`\b(voicectl|go|process)_[a-zA-Z0-9_]+`)
		exprs := []string{}
		// The cluster row's panels need a cluster (and an API) to scrape:
		// TestAlertRulesAndClusterDashboardNameLiveMetrics checks them.
		cluster := regexp.MustCompile(`\bvoicectl_(api|bus|cluster)_`)
		for _, p := range dash.Panels {
			if p.Type == "row" {
				continue
			}
			require.NotEmpty(t, p.Targets, p.Title)
			for _, tg := range p.Targets {
				if !cluster.MatchString(tg.Expr) {
					exprs = append(exprs, tg.Expr)
				}
			}
		}
		for _, v := range dash.Templating.List {
			if q, ok := v.Query.(string); ok && v.Type == "query" {
				exprs = append(exprs, q)
			}
		}
		for _, e := range exprs {
			found := ident.FindAllString(e, -1)
			require.NotEmpty(t, found, "expression names no metric: %s", e)
			for _, n := range found {
				require.True(t, names[n], "dashboard expression %q names %s, which a live scrape lacks", e, n)
			}
			// and Prometheus can evaluate it
			_, err := http.Get(prom + "/api/v1/query?" + url.Values{"query": {strings.NewReplacer("$server", ".*", "$worker", ".*").Replace(e)}}.Encode())
			require.NoError(t, err)
		}
	})
	require.True(t, bytes.Contains([]byte(body), []byte("go_goroutines")), "Go runtime metrics")
	require.Contains(t, body, "process_resident_memory_bytes")
}

func TestLogsNeverHoldSecrets(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "1", "--log-level", "debug")
	secret := secretLine.FindStringSubmatch(s.out.String())[1]
	key := adminKeyLine.FindStringSubmatch(s.out.String())[1]
	a := devJoin(t, s, "private", "alice", true)
	b := devJoin(t, s, "private", "bob", true)
	require.Eventually(t, func() bool { return a.Received(b.PeerID()) > 5 }, 10*time.Second, 50*time.Millisecond)
	tok, _, code := cli(t, []string{"VOICECTL_AUTH_SECRET=" + secret}, "token", "create", "--room", "private", "--identity", "carol")
	require.Zero(t, code)
	tok = strings.TrimSpace(tok)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.Connect(ctx, client.Config{URL: s.base, Token: tok + "tampered"})
	require.Error(t, err)
	_, _, code = cli(t, []string{"VOICECTL_ADMIN_URL=" + s.base, "VOICECTL_AUTH_ADMIN_KEY=" + key}, "rooms", "list")
	require.Zero(t, code)
	_, _, code = cli(t, []string{"VOICECTL_ADMIN_URL=" + s.base, "VOICECTL_AUTH_ADMIN_KEY=" + key + "x"}, "rooms", "list")
	require.NotZero(t, code)
	a.Close()
	b.Close()
	s.stop(t)

	logs := s.logs.String()
	require.Contains(t, logs, `"peer joined"`, "debug logs were captured")
	require.Contains(t, logs, `"room":"private"`, "room id is a log attribute")
	require.Regexp(t, `"peer":"PA_[0-9a-f]+"`, logs, "peer id is a log attribute")
	for name, s := range map[string]string{"secret": secret, "admin key": key, "token": tok, "token signature": tok[strings.LastIndexByte(tok, '.')+1:]} {
		require.NotContains(t, logs, s, "the %s appears in the logs", name)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.HasPrefix(line, "{") {
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &v), "log lines are JSON when not on a terminal: %s", line)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
