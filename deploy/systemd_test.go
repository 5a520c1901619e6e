package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/config"
)

var units = []string{"voicectl-serve.service", "voicectl-api.service"}

// TestSystemdUnitsVerify runs systemd-analyze verify on the units, in a
// root of their own (the host's unit tree, the units, a voicectl binary
// where ExecStart says): any warning fails the test, not just errors.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	require.NoError(t, err, "systemd-analyze is needed (Debian's systemd package; make test-deps)")
	root := t.TempDir()
	for _, d := range []string{"usr/local/bin", "etc/systemd/system", "usr/lib/systemd"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/local/bin/voicectl"), []byte("#!/bin/sh\n"), 0o755))
	out, err := exec.Command("cp", "-r", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput()
	require.NoError(t, err, string(out))
	for _, u := range units {
		b, err := os.ReadFile(filepath.Join("systemd", u))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(root, "etc/systemd/system", u), b, 0o644))
	}
	out, err = exec.Command(analyze, append([]string{"verify", "--root=" + root}, units...)...).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze has remarks")
}

// TestServeUnitOutlastsTheDrain: systemd must not kill a draining server:
// TimeoutStopSec exceeds drain.deadline, SIGTERM is the stop signal, and a
// drained server is started again.
func TestServeUnitOutlastsTheDrain(t *testing.T) {
	b, err := os.ReadFile("systemd/voicectl-serve.service")
	require.NoError(t, err)
	unit := string(b)
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)$`).FindStringSubmatch(unit)
	require.NotNil(t, m)
	secs, _ := strconv.Atoi(m[1])
	drain, err := time.ParseDuration(config.Defaults()["drain.deadline"].(string))
	require.NoError(t, err)
	require.Greater(t, time.Duration(secs)*time.Second, drain)
	for _, line := range []string{"KillSignal=SIGTERM", "Restart=always", "NoNewPrivileges=yes", "AmbientCapabilities=", "ProtectSystem=strict"} {
		require.Contains(t, unit, "\n"+line+"\n")
	}
	require.Regexp(t, `(?m)^StateDirectory=\S+$`, unit)
	require.Regexp(t, `(?m)^EnvironmentFile=\S+$`, unit)
}
