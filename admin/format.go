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
	}
	return []string{p.ID, p.Room, strings.Join(ws, "<->"), fmt.Sprint(len(p.Flows)), fmt.Sprint(consumers)}
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
