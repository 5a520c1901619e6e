package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoadgenTransportShowsThePath holds loadgen's listeners to each
// transport in turn against one server with ICE over TCP and the embedded
// TURN server (UDP and TLS): the server's admin API (which loadgen reads
// into listener_paths) shows every listener's media on that path, and every
// packet arrives.
func TestLoadgenTransportShowsThePath(t *testing.T) {
	t.Parallel()
	rtcPort := rtcPorts(t)
	env := append(turnEnv(t, turnPortsAt(rtcPort)), "VOICECTL_RTC_TCP=true",
		"VOICECTL_AUTH_SECRET="+lgSecret, "VOICECTL_AUTH_ADMIN_KEY="+lgAdminKey)
	s := startServeAt(t, rtcPort, env, "--workers", "1")
	lgEnv := []string{"VOICECTL_ADMIN_URL=" + s.base, "VOICECTL_AUTH_SECRET=" + lgSecret, "VOICECTL_AUTH_ADMIN_KEY=" + lgAdminKey}
	for _, e := range env {
		if cert, ok := strings.CutPrefix(e, "VOICECTL_TURN_CERT_FILE="); ok {
			lgEnv = append(lgEnv, "SSL_CERT_FILE="+cert) // loadgen's TURN/TLS client trusts the test certificate
		}
	}
	for transport, path := range map[string]string{"udp": "udp", "tcp": "tcp", "turn-udp": "turn/udp", "turn-tls": "turn/tls"} {
		out, stderr, code := cli(t, lgEnv, "loadgen", "run", "--rooms", "1", "--publishers", "1", "--listeners", "2",
			"--duration", "1s", "--warmup", "500ms", "--transport", transport, "--room-prefix", transport, "-o", "json")
		require.Zero(t, code, "%s: %s", transport, stderr)
		r := loadReport(t, out)
		require.Equal(t, transport, r.Transport)
		// Every listener the server shows is on that path (one that rejoined
		// during the short run is left out of the count under its old id: seen
		// once beside the whole suite on two cores).
		require.Len(t, r.ListenerPaths, 1, out)
		require.Positive(t, r.ListenerPaths[path], out)
		require.Zero(t, r.ListenersMissingStreams, out)
		require.Positive(t, r.PacketsExpected)
		require.Equal(t, r.PacketsExpected, r.PacketsReceived, "%s: %s", transport, out)
		require.Positive(t, r.LatencySamples, "%s: the sampled packets are decrypted and timed", transport)
	}
}
