package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/wire"
)

// readyBus is the bus state a /readyz body carries, with its status.
func readyBus(t *testing.T, base string) (int, bus.State) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Bus *bus.State `json:"bus"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.NotNil(t, body.Bus, "/readyz of %s says nothing of the bus", base)
	return resp.StatusCode, *body.Bus
}

// TestClusterOffTheBrokerAnswersAtOnceAndSaysSo: with RabbitMQ stopped, a
// create is answered 503 bus_unavailable at once (not no_capacity after
// cluster.create_timeout), a join into a room with a live home still works,
// every /readyz keeps 200 and says since when the bus is down, and
// `voicectl servers` tells the outage from dead servers.
func TestClusterOffTheBrokerAnswersAtOnceAndSaysSo(t *testing.T) {
	t.Parallel()
	br := rabbittest.Start(t)
	// A create_timeout far above the bound asserted: a create that waited
	// for it could not pass.
	env := []string{"VOICECTL_CLUSTER_CREATE_TIMEOUT=10s"}
	srv := startServeEnv(t, append(clusterEnv(), env...), "--http-addr", "127.0.0.11:0", "--workers", "1", "--amqp-url", br.URL)
	api := startAPIEnv(t, br.URL, t.TempDir(), env)
	require.Eventually(t, func() bool { return len(api.liveServers(t)) == 1 }, 15*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusCreated, api.call(t, "POST", "/v1/rooms", map[string]string{"room": "kept"}, nil))

	br.StopApp(t)
	require.Eventually(t, func() bool { _, st := readyBus(t, api.base); return !st.Connected }, 15*time.Second, 50*time.Millisecond,
		"the API notices its lost connection")

	took := createRefusedOffTheBroker(t, api, "new")
	require.Less(t, took, 2*time.Second, "answered at once, not after create_timeout (10s)")

	// A room with a live home needs no broker to be joined.
	a, _, err := api.joinThroughAPI(t, "kept", "alice")
	require.NoError(t, err)
	b, _, err := api.joinThroughAPI(t, "kept", "bob")
	require.NoError(t, err)
	hearEachOther(t, a, b, 10*time.Second)

	for _, base := range []string{api.base, srv.base} {
		code, st := readyBus(t, base)
		require.Equal(t, http.StatusOK, code, "%s/readyz fails over a broker outage", base)
		require.False(t, st.Connected, base)
		require.False(t, st.DownSince.IsZero(), base)
		require.Less(t, time.Since(st.DownSince), time.Minute, base)
	}

	cliEnv := append(os.Environ(), "VOICECTL_AUTH_API_KEY="+clusterAPIKey)
	out, _, code := cli(t, cliEnv, "servers", "--api", api.base, "-o", "json")
	require.Zero(t, code)
	var ss []wire.ClusterServer
	require.NoError(t, json.Unmarshal([]byte(out), &ss))
	require.Len(t, ss, 1)
	require.Equal(t, "live", string(ss[0].State), "a broker outage is no server's death")
	require.False(t, ss[0].APIBusDownSince.IsZero(), "voicectl servers -o json: %s", out)
	_, stderr, code := cli(t, cliEnv, "servers", "--api", api.base)
	require.Zero(t, code)
	require.Contains(t, stderr, "voicectl api is off the message broker since")

	br.StartApp(t)
	require.Eventually(t, func() bool {
		code := api.call(t, "POST", "/v1/rooms", map[string]string{"room": "new"}, nil)
		return code == http.StatusCreated || code == http.StatusOK
	}, 20*time.Second, 200*time.Millisecond, "creates work again once the broker is back")
	_, st := readyBus(t, api.base)
	require.True(t, st.Connected)
}
