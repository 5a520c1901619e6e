package cluster

// ServerState is a server's state as the cluster sees it from heartbeats:
// the API's GET /v1/servers and room answers, the admin commands and the
// load generator all speak it.
type ServerState string

// The states of a server.
const (
	// ServerLive: heard within cluster.dead_after and not draining.
	ServerLive ServerState = "live"
	// ServerDraining: heard, and draining: it takes nothing new and its
	// rooms are being moved away.
	ServerDraining ServerState = "draining"
	// ServerDead: silent past cluster.dead_after; its rooms are re-homed.
	ServerDead ServerState = "dead"
	// ServerUnknown: not (yet) in the registry, e.g. a room's server that
	// has not sent a heartbeat since the API started.
	ServerUnknown ServerState = "unknown"
)

// StateOf is the state of a server that is dead or draining as given; a
// dead server is dead whether it drained or not.
func StateOf(dead, draining bool) ServerState {
	switch {
	case dead:
		return ServerDead
	case draining:
		return ServerDraining
	}
	return ServerLive
}
