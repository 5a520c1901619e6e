// Package testenv holds helpers for tests that open sockets.
package testenv

import (
	"net"
	"testing"
)

// RequireLoopbackOnly skips t unless the process runs in a network namespace whose
// only interface is loopback (as `make test` arranges), so that no test traffic can
// reach another network.
func RequireLoopbackOnly(t testing.TB) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list interfaces: %v", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			t.Skipf("opens sockets: run inside a loopback-only network namespace (make test); found interface %s", i.Name)
		}
	}
}
