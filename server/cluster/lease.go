package cluster

import "time"

// The timings of the one-home protocol (docs/architecture.md, "One home per
// room"), derived from cluster.heartbeat and cluster.dead_after so that the
// API and every server compute the same ones.

// LeasePath is a server's endpoint the API probes over HTTP, beside the bus:
// an answer proves the server alive to the API and renews the server's lease.
const LeasePath = "/v1/cluster/lease"

// LeaseRoom is the room a lease probe's token names: the API refuses room
// names with control characters, so it never signs a join token for it, and
// a join token renews no lease.
const LeaseRoom = "\x01lease"

// Lease is how long a server admits joins to its rooms after its last
// renewal (its own heartbeat seen back on the bus, or the API's probe):
// shorter than dead_after, so that a server the API can reach by neither
// channel has stopped admitting joins before the API may declare it dead
// and re-home its rooms.
func Lease(heartbeat, deadAfter time.Duration) time.Duration {
	return max(deadAfter-heartbeat, deadAfter*2/3)
}

// ProbeAfter is how long a server may be silent on the bus before the API
// probes it over HTTP (and every ProbeAfter/3 after that while it stays
// silent): one heartbeat and a half (one missed), and at most three
// quarters of the lease, so that the probe renews it in time.
func ProbeAfter(heartbeat, deadAfter time.Duration) time.Duration {
	return min(heartbeat+heartbeat/2, Lease(heartbeat, deadAfter)*3/4)
}

// LeaseAnswer is a server's answer to a lease probe.
type LeaseAnswer struct {
	Server ServerID `json:"server"`
	// Until is when the renewed lease lapses.
	Until time.Time `json:"until"`
}
