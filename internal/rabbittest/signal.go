package rabbittest

import (
	"syscall"
	"testing"
)

// Signal sends sig to the broker's Erlang VM (its pid file): SIGSTOP
// freezes the broker with its connections up, SIGCONT resumes it.
func (b *Broker) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	b.own(t)
	pid, err := b.pid()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signal %v to the broker (%d): %v", sig, pid, err)
	}
}
