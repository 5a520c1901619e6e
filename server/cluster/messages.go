package cluster

import (
	"encoding/json"
	"time"
)

// The control plane's typed requests, replies and events (the bus carries
// them in envelopes; see server/bus/methods.go for which goes with which).

// RoomCreate asks a server to host a room.
type RoomCreate struct {
	Room string `json:"room"`
}

// RoomInfo is a room and the server that hosts it.
type RoomInfo struct {
	Room      string   `json:"room"`
	Server    ServerID `json:"server"`
	SignalURL string   `json:"signal_url"`
}

// RoomRef names a room in a command.
type RoomRef struct {
	Room string `json:"room"`
	// Reason tells the room's peers why (a release: "moved").
	Reason string `json:"reason,omitempty"`
}

// RoomMove tells a room's old server that the room now lives on To, whose
// signalling is at SignalURL.
type RoomMove struct {
	Room      string   `json:"room"`
	To        ServerID `json:"to"`
	SignalURL string   `json:"signal_url"`
}

// DrainRequest tells a server to drain: take no more rooms or relays, let
// the API move its rooms away, and exit when empty or after Deadline (0:
// the server's drain.deadline).
type DrainRequest struct {
	Deadline time.Duration `json:"deadline,omitempty"`
}

// DrainAnswer is when a drain ends at the latest, and the peers the server
// had when it began.
type DrainAnswer struct {
	Until time.Time `json:"until"`
	Peers int       `json:"peers"`
}

// PeerCommand names a peer (by id or identity) in a room.
type PeerCommand struct {
	Room  string `json:"room"`
	Peer  string `json:"peer"`
	Muted bool   `json:"muted,omitempty"`
}

// Result answers a command.
type Result struct {
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
	Peers   int    `json:"peers,omitempty"`
	// At is when the server did it, by its own clock: for room.move, when
	// it gave the room up, so the API tells its heartbeats sent before (that
	// still list the room) from a server that kept it.
	At time.Time `json:"at,omitzero"`
}

// WorkerUsage is one worker in a heartbeat.
type WorkerUsage struct {
	Index    int     `json:"index"`
	Ready    bool    `json:"ready"`
	Load     int     `json:"load"`
	Capacity int     `json:"capacity"`
	Stress   float64 `json:"stress"`
}

// Heartbeat is a server's usage, published every cluster.heartbeat.
type Heartbeat struct {
	Server    ServerID      `json:"server"`
	SignalURL string        `json:"signal_url"`
	Version   string        `json:"version"`
	Rooms     []string      `json:"rooms"` // the rooms it hosts
	Peers     int           `json:"peers"`
	Consumers int           `json:"consumers"`
	Producers int           `json:"producers"`
	Workers   []WorkerUsage `json:"workers"`
	// Stress is the server's load over its capacity, over its ready workers
	// (1 with none ready).
	Stress   float64 `json:"stress"`
	CPU      float64 `json:"cpu_percent"`
	Draining bool    `json:"draining"`
	// RelayRooms and RelayPeers are what it carries for rooms other servers
	// own (counted in Stress too).
	RelayRooms int  `json:"relay_rooms"`
	RelayPeers int  `json:"relay_peers"`
	Accepting  bool `json:"accepting"` // consuming the shared rooms queue
	// RoomLoads is each hosted room's load units, whole (what a new home
	// needs spare for it); Spare is the capacity left on the ready workers.
	RoomLoads map[string]int `json:"room_loads,omitempty"`
	Spare     int            `json:"spare"`
	// StartedAt is when the server process started: a rolling restart waits
	// for a later one.
	StartedAt time.Time `json:"started_at"`
	SentAt    time.Time `json:"sent_at"`
	// TURN are the URLs of the server's embedded TURN server (no
	// credentials): a room's owner hands them, with credentials it signs
	// with the shared secret, to its peers whose media this server relays.
	TURN []string `json:"turn,omitempty"`
}

// RelayPlace asks a server for a relay: a router for a room another server
// owns, with room for one more peer on it. The relay keeps no room state but
// that router and the peers reserved on it.
type RelayPlace struct {
	Room    string   `json:"room"`
	Owner   ServerID `json:"owner"`
	Peer    string   `json:"peer"` // also the peer's transport id
	Publish bool     `json:"publish"`
	// MaxForwardedSpeakers is the room's loudest-N (0: everyone).
	MaxForwardedSpeakers int `json:"max_forwarded_speakers,omitempty"`
	// Publishers is how many peers of the room publish, wherever they are:
	// the relay charges its router for the ones piped in.
	Publishers int `json:"publishers"`
	// Try names this request among the owner's tries for the peer: a
	// RelayRelease for a try the owner gave up on gives back only what that
	// try reserved, never a later try's reservation.
	Try string `json:"try,omitempty"`
}

// RelayRelease gives back the reservation of a relay request the owner gave
// up on (it did not answer in time, or answered with another server's
// router): the peer went elsewhere, and a reservation kept for it would be
// capacity lost. The owner is the sender.
type RelayRelease struct {
	Room string `json:"room"`
	Peer string `json:"peer"`
	Try  string `json:"try"`
}

// RelayPlaced is where a relayed peer's media lands.
type RelayPlaced struct {
	Worker   WorkerRef `json:"worker"`
	RouterID string    `json:"router_id"`
}

// WorkerEvent is a relay worker's event, sent on to the room's owner.
type WorkerEvent struct {
	Worker WorkerRef       `json:"worker"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}
