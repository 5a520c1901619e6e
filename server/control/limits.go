package control

import (
	"net/http"
	"sync"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/wire"
)

// Limits a client meets (signal.*), as labels of voicectl_signal_limited_total.
const (
	limitConnections        = "connections"
	limitConnectionsPerAddr = "connections_per_address"
	limitMessagesPerSecond  = "messages_per_second"
	limitJoinTimeout        = "join_timeout"
	limitMediaTimeout       = "media_timeout"
	limitSDPBytes           = "sdp_bytes"
	limitCandidates         = "candidates"
	limitSlowReader         = "slow_reader"
)

var limitNames = []string{limitConnections, limitConnectionsPerAddr, limitMessagesPerSecond, limitJoinTimeout,
	limitMediaTimeout, limitSDPBytes, limitCandidates, limitSlowReader}

// connLimits counts the open signalling connections, in all and per remote
// address, against signal.max_connections and
// signal.max_connections_per_address.
type connLimits struct {
	max, perAddr int

	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

func newConnLimits(max, perAddr int) *connLimits {
	return &connLimits{max: max, perAddr: perAddr, byAddr: map[string]int{}}
}

// take holds one connection for remote; it says which limit refused it,
// "" when it was taken (then release gives it back).
func (l *connLimits) take(remote string) string {
	host := auth.RemoteHost(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.max:
		return limitConnections
	case l.perAddr > 0 && l.byAddr[host] >= l.perAddr:
		return limitConnectionsPerAddr
	}
	l.total++
	l.byAddr[host]++
	return ""
}

func (l *connLimits) release(remote string) {
	host := auth.RemoteHost(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byAddr[host]--; l.byAddr[host] <= 0 {
		delete(l.byAddr, host)
	}
}

// refuseConnection answers a WebSocket upgrade over a connection limit.
func (c *Control) refuseConnection(w http.ResponseWriter, limit string) {
	c.metrics.limited.WithLabelValues(limit).Inc()
	c.metrics.signalErrors.WithLabelValues(wire.CodeTooManyConnections).Inc()
	w.Header().Set("Retry-After", "5")
	if limit == limitConnections {
		httpError(w, http.StatusServiceUnavailable, wire.CodeTooManyConnections,
			"the server has as many signalling connections as it takes (signal.max_connections); try again later")
		return
	}
	httpError(w, http.StatusTooManyRequests, wire.CodeTooManyConnections,
		"too many signalling connections from this address (signal.max_connections_per_address); close some first")
}
