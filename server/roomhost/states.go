package roomhost

// The lifecycles of a room, its routers and its peers, guarded by the
// room's mu. Each moves forward only, save a hub router that a peer is
// placed on again: it is live again. What is not a lifecycle stays a flag: a peer's muted (a user's toggle,
// at any point of its join), producing (mirrors the worker's producer, set
// by producer.new and cleared by producer.closed, whatever the peer's
// phase), createsRouter (its role in its join, fixed at admission) and a
// router's remote (where it is, fixed when it is made).

// roomState is where a room is in its life.
type roomState uint8

const (
	// roomOpen takes joins.
	roomOpen roomState = iota
	// roomClosing: an admin closed it; it refuses joins until it empties.
	roomClosing
	// roomClosed: emptied, and no longer in the host's index; a join for
	// its id opens a new room.
	roomClosed
)

func (s roomState) String() string {
	switch s {
	case roomOpen:
		return "open"
	case roomClosing:
		return "closing"
	case roomClosed:
		return "closed"
	}
	return "unknown"
}

// routerState is where one of a room's routers is in its life.
type routerState uint8

const (
	// routerLive serves the peers placed on it.
	routerLive routerState = iota
	// routerHub: its peers left while producers went through it from one
	// relay to another; it is retired once no pipe touches it (or it
	// serves peers again, if one is placed on it meanwhile).
	routerHub
	// routerRemoved: taken out of the room (its last peer left, or it was
	// not made); whoever sees it created and removed closes it on the
	// worker.
	routerRemoved
	// routerDead: its worker died; it is out of the room too.
	routerDead
)

// out reports a router taken out of its room, dead or not.
func (s routerState) out() bool { return s >= routerRemoved }

func (s routerState) String() string {
	switch s {
	case routerLive:
		return "live"
	case routerHub:
		return "hub"
	case routerRemoved:
		return "removed"
	case routerDead:
		return "dead"
	}
	return "unknown"
}

// peerPhase is how far a peer's join has come.
type peerPhase uint8

const (
	// peerJoining: admitted; its router is being made or waited for.
	peerJoining peerPhase = iota
	// peerAnnounced: it was sent its joined, and the room its peer_joined;
	// room events may follow.
	peerAnnounced
	// peerReady: its transport exists on the worker.
	peerReady
	// peerConnected: its media (ICE and DTLS) connected.
	peerConnected
	// peerGone: it left (or was never set up); nothing is done for it any
	// more.
	peerGone
)

// announced reports a peer that was announced and has not left.
func (s peerPhase) announced() bool { return s >= peerAnnounced && s < peerGone }

// hasTransport reports a peer whose transport exists and has not left.
func (s peerPhase) hasTransport() bool { return s >= peerReady && s < peerGone }

func (s peerPhase) String() string {
	switch s {
	case peerJoining:
		return "joining"
	case peerAnnounced:
		return "announced"
	case peerReady:
		return "ready"
	case peerConnected:
		return "connected"
	case peerGone:
		return "gone"
	}
	return "unknown"
}
