package rabbittest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Signal sends sig to the broker's Erlang VM (its pid file): SIGSTOP
// freezes the broker with its connections up, SIGCONT resumes it.
func (b *Broker) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(b.dir, "rabbit.pid"))
	if err != nil {
		t.Fatalf("the broker's pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("the broker's pid file: %v", err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signal %v to the broker (%d): %v", sig, pid, err)
	}
}
