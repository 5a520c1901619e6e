package signal

import (
	"net/http"
	"sync"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/internal/httpx"
	"github.com/voicectl/voicectl/server/wire"
)

// Limits a client meets (signal.*), as labels of voicectl_signal_limited_total.
const (
	LimitConnections        = "connections"
	LimitConnectionsPerAddr = "connections_per_address"
	LimitMessagesPerSecond  = "messages_per_second"
	LimitJoinTimeout        = "join_timeout"
	LimitMediaTimeout       = "media_timeout"
	LimitSDPBytes           = "sdp_bytes"
	LimitCandidates         = "candidates"
	LimitSlowReader         = "slow_reader"
	// LimitResumeAttempts: too many resumes with a wrong token from one
	// address; LimitResumeBuffer: a detached session that had to keep more
	// messages than it holds, so its peer ended (resume.go).
	LimitResumeAttempts = "resume_attempts"
	LimitResumeBuffer   = "resume_buffer"
)

var limitNames = []string{LimitConnections, LimitConnectionsPerAddr, LimitMessagesPerSecond, LimitJoinTimeout,
	LimitMediaTimeout, LimitSDPBytes, LimitCandidates, LimitSlowReader, LimitResumeAttempts, LimitResumeBuffer}

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
		return LimitConnections
	case l.perAddr > 0 && l.byAddr[host] >= l.perAddr:
		return LimitConnectionsPerAddr
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
func (srv *Server) refuseConnection(w http.ResponseWriter, limit string) {
	srv.metrics.limited.WithLabelValues(limit).Inc()
	srv.metrics.signalErrors.WithLabelValues(string(wire.CodeTooManyConnections)).Inc()
	w.Header().Set("Retry-After", "5")
	if limit == LimitConnections {
		httpx.Error(w, http.StatusServiceUnavailable, wire.CodeTooManyConnections,
			"the server has as many signalling connections as it takes (signal.max_connections); try again later")
		return
	}
	httpx.Error(w, http.StatusTooManyRequests, wire.CodeTooManyConnections,
		"too many signalling connections from this address (signal.max_connections_per_address); close some first")
}
