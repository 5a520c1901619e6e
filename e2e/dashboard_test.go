package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tmux drives a real terminal.
type tmux struct {
	t       *testing.T
	session string
}

func newTmux(t *testing.T, env []string, command string) *tmux {
	t.Helper()
	_, err := exec.LookPath("tmux")
	require.NoError(t, err, "tmux is required (make test installs it)")
	x := &tmux{t: t, session: fmt.Sprintf("vc%d", time.Now().UnixNano())}
	args := []string{"new-session", "-d", "-s", x.session, "-x", "120", "-y", "32"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	out, err := exec.Command("tmux", append(args, command)...).CombinedOutput()
	require.NoError(t, err, "tmux: %s", out)
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", x.session).Run() })
	return x
}

func (x *tmux) capture() string {
	out, err := exec.Command("tmux", "capture-pane", "-p", "-t", x.session).CombinedOutput()
	require.NoError(x.t, err, "capture: %s", out)
	return string(out)
}

func (x *tmux) keys(k ...string) {
	require.NoError(x.t, exec.Command("tmux", append([]string{"send-keys", "-t", x.session}, k...)...).Run())
}

// waitFor polls the pane until every want is shown.
func (x *tmux) waitFor(timeout time.Duration, want ...string) string {
	x.t.Helper()
	var pane string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		pane = x.capture()
		ok := true
		for _, w := range want {
			if !strings.Contains(pane, w) {
				ok = false
			}
		}
		if ok {
			return pane
		}
		time.Sleep(100 * time.Millisecond)
	}
	x.t.Fatalf("pane never showed %q:\n%s", want, pane)
	return pane
}

func TestDashboardInTmux(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	const adminKey = "dashboard-admin-key-0123456789"
	// Capacity 4 with 30% headroom: alpha-room's third peer lands on worker 1
	// through a pipe, so every view has something to show.
	serveEnv := []string{"VOICECTL_AUTH_ADMIN_KEY=" + adminKey, "VOICECTL_WORKER_MAX_CONSUMERS=4", "VOICECTL_WORKER_PIPE_HEADROOM=0.3"}
	args := []string{"--workers", "2", "--http-addr", fmt.Sprintf("127.0.0.1:%d", port)}
	s := startServeEnv(t, serveEnv, args...)
	devJoin(t, s, "beta-room", "carol", false)
	devJoin(t, s, "alpha-room", "alice", true)
	devJoin(t, s, "alpha-room", "bob", false)
	devJoin(t, s, "alpha-room", "dave", false)

	x := newTmux(t, []string{"TERM=xterm-256color"}, fmt.Sprintf("%s dashboard --server %s --admin-key %s --refresh 300ms", binary, s.base, adminKey))
	pane := x.waitFor(15*time.Second, "● connected", "WORKER", "up")
	t.Logf("workers view:\n%s", pane)
	require.Len(t, regexp.MustCompile(`(?m)^[01]\s+up\s`).FindAllString(pane, -1), 2, "both workers listed as up:\n%s", pane)

	x.keys("Tab")
	pane = x.waitFor(5*time.Second, "alpha-room", "beta-room")
	t.Logf("rooms view:\n%s", pane)

	x.keys("Enter")
	pane = x.waitFor(5*time.Second, "Room alpha-room", "alice", "bob", "dave", "0<->1")
	t.Logf("room view:\n%s", pane)
	x.keys("Escape") // alone: ESC followed at once by another key reads as alt+key
	x.waitFor(5*time.Second, "SPEAKING", "beta-room")
	x.keys("Tab")
	pane = x.waitFor(5*time.Second, "PIPE", "PRODUCERS", "alpha-room", "0<->1")
	t.Logf("pipes view:\n%s", pane)
	x.keys("Tab") // back to workers

	// The server goes away: the dashboard says so and keeps the last data.
	s.stop(t)
	pane = x.waitFor(10*time.Second, "disconnected", "WORKER")
	t.Logf("disconnected:\n%s", pane)

	// It comes back on the same address: the dashboard reconnects by itself.
	s2 := startServeEnv(t, serveEnv, args...)
	devJoin(t, s2, "gamma-room", "erin", true)
	x.waitFor(15*time.Second, "● connected")
	x.keys("2")
	pane = x.waitFor(10*time.Second, "gamma-room")
	require.NotContains(t, pane, "disconnected")

	x.keys("q")
	require.Eventually(t, func() bool {
		return exec.Command("tmux", "has-session", "-t", x.session).Run() != nil
	}, 5*time.Second, 100*time.Millisecond, "q should quit the dashboard (and so the tmux session)")
}
