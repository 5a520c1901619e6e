package registry

import (
	"math"

	"github.com/voicectl/voicectl/server/cluster"
)

// SpareFor is a server's spare capacity as the API counts it: what its
// heartbeat says, less the rooms moved to it since.
func (s Server) SpareFor() int { return s.Spare - s.MovedIn }

// Needs is the spare capacity a new home must have for a room of units load
// with margin to spare (0.5: half as much again).
func Needs(units int, margin float64) int {
	return int(math.Ceil(float64(units) * (1 + margin)))
}

// Fits says why a server cannot take a room of units load, or "" when it can.
func Fits(s Server, units int, margin float64) string {
	switch {
	case s.Dead:
		return "dead"
	case s.Draining:
		return "draining"
	case s.SpareFor() < Needs(units, margin):
		return "full"
	}
	return ""
}

// MoveTarget picks the new home of a room of units load now on from: the
// live server, not draining and not from, with the most spare capacity, if
// that fits the room with margin; ties by id.
func MoveTarget(servers []Server, from cluster.ServerID, units int, margin float64) (cluster.ServerID, bool) {
	var best *Server
	for i := range servers {
		s := &servers[i]
		if s.Server == from || Fits(*s, units, margin) != "" {
			continue
		}
		if best == nil || s.SpareFor() > best.SpareFor() || (s.SpareFor() == best.SpareFor() && s.Server < best.Server) {
			best = s
		}
	}
	if best == nil {
		return "", false
	}
	return best.Server, true
}
