package admin

import (
	"fmt"
	"strings"

	"github.com/voicectl/voicectl/server/wire"
)

// RouterWorkers lists the workers of a room's routers: "0,1".
func RouterWorkers(rs []wire.AdminRouter) string {
	ws := make([]string, len(rs))
	for i, r := range rs {
		ws[i] = fmt.Sprint(r.Worker)
		if r.Server != "" { // a relay router on another server
			ws[i] = ShortID(r.Server) + "/" + ws[i]
		}
	}
	return strings.Join(ws, ",")
}

// PipeRow is a pipe as table cells: id, room, workers ("0<->1"), producers crossing
// it and the far consumers they feed.
func PipeRow(p wire.AdminPipe) []string {
	consumers := 0
	for _, f := range p.Flows {
		consumers += f.Consumers
	}
	ws := make([]string, len(p.Workers))
	for i, w := range p.Workers {
		ws[i] = fmt.Sprint(w)
		if i < len(p.Servers) { // a pipe between hosts: server/worker at each end
			ws[i] = ShortID(p.Servers[i]) + "/" + ws[i]
		}
	}
	link := strings.Join(ws, "<->")
	if p.SRTP {
		link += " (srtp)"
	}
	return []string{p.ID, p.Room, link, fmt.Sprint(len(p.Flows)), fmt.Sprint(consumers)}
}

// PipeHeader names PipeRow's cells.
var PipeHeader = []string{"pipe", "room", "workers", "producers", "consumers"}

// YesNo renders a flag in a table.
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ShortID is a server id cut to its first 8 characters, enough to tell a
// cluster's servers apart in a table.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// QualityCells are a peer's connection quality as the CLI and the dashboard
// show it: loss (percent), jitter, round-trip time and "level score"; "-"
// for what is not measured (before its first score, while it is lost, or an
// RTT its reports do not tell).
func QualityCells(p wire.AdminPeer) (loss, jitter, rtt, quality string) {
	switch p.Quality {
	case "":
		return "-", "-", "-", "-"
	case wire.QualityLost:
		return "-", "-", "-", p.Quality
	}
	rtt = "-"
	if p.RTTMs > 0 {
		rtt = fmt.Sprintf("%.0fms", p.RTTMs)
	}
	return fmt.Sprintf("%.1f%%", p.Loss*100), fmt.Sprintf("%.0fms", p.JitterMs), rtt, fmt.Sprintf("%s %d", p.Quality, p.Score)
}
