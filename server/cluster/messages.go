package cluster

import "time"

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
	Stress    float64   `json:"stress"`
	CPU       float64   `json:"cpu_percent"`
	Draining  bool      `json:"draining"`
	Accepting bool      `json:"accepting"` // consuming the shared rooms queue
	SentAt    time.Time `json:"sent_at"`
}
