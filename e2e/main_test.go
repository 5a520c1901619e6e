// Package e2e runs the real voicectl binary and drives it with real clients:
// headless Chromium for the browser page.
package e2e

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/internal/rabbittest"
	"github.com/voicectl/voicectl/server/testenv"
)

// binary is the voicectl the tests run: -voicectl's when given (make test
// passes the one it has just built for the image), else one built here.
var binary string

var prebuilt = flag.String("voicectl", "", "run this voicectl binary instead of building one")

func TestMain(m *testing.M) {
	flag.Parse()
	if *prebuilt != "" {
		binary = *prebuilt
		code := m.Run()
		sharedBrowser.stop()
		rabbittest.StopShared()
		os.Exit(code)
	}
	dir, err := os.MkdirTemp("", "voicectl-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "voicectl")
	build := exec.Command("go", "build", "-o", binary, "../cmd/voicectl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build voicectl:", err)
		os.Exit(1)
	}
	code := m.Run()
	sharedBrowser.stop()
	rabbittest.StopShared()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `voicectl serve`.
type server struct {
	logs *lockedBuffer // stderr: the server's and workers' logs
	cmd  *exec.Cmd
	url  string // page URL printed at start-up
	base string
	done chan struct{}
	out  *strings.Builder
	// rtcPort is the first of its rtcPortBlock UDP ports (--rtc-port): the
	// network fault helpers match on the block, so a rule hits this server only.
	rtcPort int
}

var urlLine = regexp.MustCompile(`Open (http://\S+?)(/\S*)? in two`)

// startServe runs `voicectl serve --dev` with args and waits for its URL. Its
// workers get UDP ports of their own (rtcPorts), so tests can run in parallel.
func startServe(t testing.TB, args ...string) *server {
	return startServeEnv(t, nil, args...)
}

// startServeEnv is startServe with extra environment variables.
func startServeEnv(t testing.TB, env []string, args ...string) *server {
	t.Helper()
	return startServeAt(t, rtcPorts(t), env, args...)
}

// startServeAt is startServeEnv on a port block the caller took (rtcPorts),
// for settings that name its ports (turnPorts).
func startServeAt(t testing.TB, rtcPort int, env []string, args ...string) *server {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	// The defaults first, args after them: a flag given twice takes its last value.
	cmd := exec.Command(binary, append([]string{"serve", "--dev", "--http-addr", "127.0.0.1:0", "--rtc-port", fmt.Sprint(rtcPort),
		"--data-dir", t.TempDir(), "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	logs := &lockedBuffer{}
	cmd.Stderr = io.MultiWriter(labelledStderr(t.Name(), fmt.Sprintf("serve %s rtc %d", httpAddr(args), rtcPort)), logs)
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, done: make(chan struct{}), out: &strings.Builder{}, logs: logs, rtcPort: rtcPort}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.out.WriteString(sc.Text() + "\n")
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	select {
	case s.base = <-found:
	case <-s.done:
		t.Fatal("voicectl serve exited before printing its URL")
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("voicectl serve printed no URL")
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and checks the server and all its workers are gone
// within seconds. The first SIGTERM drains: a server that still has peers
// (a test's clients are closed after it) gets a second one, which exits at
// once.
func (s *server) stop(t testing.TB) {
	select {
	case <-s.done:
		return
	default:
	}
	children := childPIDs(s.cmd.Process.Pid)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(1500 * time.Millisecond):
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-s.done:
	case <-time.After(8 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Error("serve did not stop within 8s of SIGTERM")
	}
	require.Eventually(t, func() bool {
		for _, pid := range children {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				return false
			}
		}
		return true
	}, 3*time.Second, 50*time.Millisecond, "worker processes left behind")
}

// httpAddr is the last --http-addr in args (the one serve takes).
func httpAddr(args []string) string {
	addr := "127.0.0.1:0"
	for i, a := range args {
		if a == "--http-addr" && i+1 < len(args) {
			addr = args[i+1]
		}
	}
	return addr
}

// lockedBuffer collects output written from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func childPIDs(parent int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		var state string
		var ppid, pid int
		if _, err := fmt.Sscanf(rest, "%s %d", &state, &ppid); err != nil {
			continue
		}
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err == nil && ppid == parent {
			out = append(out, pid)
		}
	}
	return out
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	return strings.HasPrefix(s[strings.LastIndexByte(s, ')')+2:], "Z")
}

func TestServeHealthAndShutdown(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "2")
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.base + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	require.Contains(t, s.out.String(), "dev secret (auth.secret): ")
	kids := childPIDs(s.cmd.Process.Pid)
	require.Len(t, kids, 2, "one process per worker")
	start := time.Now()
	s.stop(t)
	require.Less(t, time.Since(start), 8*time.Second)

	// Ctrl-C (SIGINT) stops it as well, workers included.
	s2 := startServe(t, "--workers", "2")
	kids = childPIDs(s2.cmd.Process.Pid)
	require.Len(t, kids, 2)
	require.NoError(t, s2.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-s2.done:
	case <-time.After(8 * time.Second):
		t.Fatal("serve did not stop within 8s of SIGINT")
	}
	require.Eventually(t, func() bool {
		for _, pid := range kids {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				return false
			}
		}
		return true
	}, 3*time.Second, 50*time.Millisecond, "worker processes left behind after SIGINT")
}
