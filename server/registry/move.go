package registry

import (
	"errors"
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

// Why a server cannot take a room (Fits).
var (
	ErrDead     = errors.New("server is dead")
	ErrDraining = errors.New("server is draining")
	ErrFull     = errors.New("server lacks the spare capacity")
)

// Fits says why a server cannot take a room of units load with margin to
// spare (ErrDead, ErrDraining, ErrFull), or nil when it can.
func Fits(s Server, units int, margin float64) error {
	switch {
	case s.Dead:
		return ErrDead
	case s.Draining:
		return ErrDraining
	case s.SpareFor() < Needs(units, margin):
		return ErrFull
	}
	return nil
}

// MoveTarget picks the new home of a room of units load now on from: the
// live server, not draining and not from, with the most spare capacity, if
// that fits the room with margin; ties by id.
func MoveTarget(servers []Server, from cluster.ServerID, units int, margin float64) (cluster.ServerID, bool) {
	var best *Server
	for i := range servers {
		s := &servers[i]
		if s.Server == from || Fits(*s, units, margin) != nil {
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
