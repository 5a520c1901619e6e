package cfgload

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestICEKeys: rtc.ice_failed_after and ICE over TCP by default, each worker's
// TCP port, turning TCP off, and the bounds, each error naming its key.
func TestICEKeys(t *testing.T) {
	cfg, err := Load(Options{File: writeFile(t, "dev: true\nworker:\n  count: 2\n")})
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, cfg.RTC.ICEFailedAfter)
	require.True(t, cfg.RTC.TCP)
	require.Equal(t, 50001, cfg.RTC.WorkerTCPPort(1), "the worker's UDP port number")

	cfg, err = Load(Options{File: writeFile(t, "dev: true\nrtc:\n  tcp_port: 443\n  ice_failed_after: 2m\n")})
	require.NoError(t, err)
	require.Equal(t, 444, cfg.RTC.WorkerTCPPort(1))
	require.Equal(t, 2*time.Minute, cfg.RTC.ICEFailedAfter)

	cfg, err = Load(Options{File: writeFile(t, "dev: true\n"), Environ: []string{"VOICECTL_RTC_TCP=false"}})
	require.NoError(t, err)
	require.Zero(t, cfg.RTC.WorkerTCPPort(0), "off")

	for file, key := range map[string]string{
		"dev: true\nrtc:\n  ice_failed_after: 5s\n":                 `"rtc.ice_failed_after"`,
		"dev: true\nrtc:\n  ice_failed_after: 2h\n":                 `"rtc.ice_failed_after"`,
		"dev: true\nrtc:\n  tcp_port: 70000\n":                      `"rtc.tcp_port"`,
		"dev: true\nrtc:\n  tcp_port: 65535\nworker:\n  count: 2\n": `"rtc.tcp_port"`,
		"dev: true\nrtc:\n  tcp_port: -1\n":                         `"rtc.tcp_port"`,
	} {
		_, err := Load(Options{File: writeFile(t, file)})
		require.Error(t, err, file)
		require.Contains(t, err.Error(), key)
	}
}
