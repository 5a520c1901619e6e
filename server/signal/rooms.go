package signal

import (
	"context"

	"github.com/voicectl/voicectl/server/roomhost"
	"github.com/voicectl/voicectl/server/wire"
)

// Rooms is what a session needs of the room host: whether it takes the
// client at all, and the peer's join, media requests and leave.
type Rooms interface {
	// Draining, Owns and Full decide the upgrade.
	Draining() bool
	Owns(room string) bool
	Full() bool

	Admit(req roomhost.JoinRequest) (roomhost.Admission, error)
	Connect(ctx context.Context, peerID string) error
	Answer(ctx context.Context, peerID, sdp string) error
	AddCandidate(ctx context.Context, peerID string, c wire.ICECandidate) error
	Mute(peerID string, muted bool) error
	// RestartICE asks the peer's worker for an ICE-restart offer (the
	// client's restart_ice); the offer comes as any other.
	RestartICE(ctx context.Context, peerID string) error
	Leave(peerID string)
}

var _ Rooms = (*roomhost.Host)(nil)
