package wire

import (
	"time"

	"github.com/voicectl/voicectl/server/cluster"
)

// CodeBusUnavailable: HTTP 503 from voicectl api, which is off the message
// broker and cannot do now what needs it (create, re-home, move, drain,
// close a room, a room's peers); wait Retry-After and ask again. Joins into
// rooms with a live home need no broker and keep working. An API code, not
// a signalling one: it is not in Codes.
const CodeBusUnavailable Code = "bus_unavailable"

// ClusterServer is one server as `voicectl api` lists it at GET /v1/servers.
type ClusterServer struct {
	ID        string              `json:"id"`
	SignalURL string              `json:"signal_url"`
	State     cluster.ServerState `json:"state"` // live, draining, dead
	Version   string              `json:"version"`
	Rooms     int                 `json:"rooms"`
	Peers     int                 `json:"peers"`
	Consumers int                 `json:"consumers"`
	Producers int                 `json:"producers"`
	Stress    float64             `json:"stress"`
	CPU       float64             `json:"cpu_percent"`
	Accepting bool                `json:"accepting"` // consumes the shared rooms queue
	LastSeen  time.Time           `json:"last_seen"`
	// RelayRooms and RelayPeers are what it carries for rooms other servers
	// own (relay routers), counted in Stress too.
	RelayRooms int `json:"relay_rooms"`
	RelayPeers int `json:"relay_peers"`
	// Spare is the load units its ready workers have left (what a moved room
	// must fit in, with cluster.move_margin).
	Spare int `json:"spare"`
	// StartedAt is when the server process started.
	StartedAt time.Time `json:"started_at"`
	// Workers is each worker's stress, by index.
	Workers []ClusterWorker `json:"workers"`
	// PlacedSinceHeartbeat counts rooms the API placed there that its last
	// heartbeat does not show yet.
	PlacedSinceHeartbeat int `json:"placed_since_heartbeat"`
	// Placing counts rooms being placed there whose answer is awaited.
	Placing int `json:"placing"`
	// HeartbeatAge is the time since its last heartbeat, in seconds, by
	// the API's clock.
	HeartbeatAge float64 `json:"heartbeat_age_seconds"`
	// OffBus: silent on the message broker past 1.5 heartbeats but
	// answering the API's probe over HTTP since (at ProbeAnsweredAt): alive
	// and keeping its rooms, cut from the broker only; no new room is placed
	// on it. A dead server is state dead. False while the API is itself off
	// the broker (APIBusDownSince): then every heartbeat is missing and the
	// probes say nothing of the servers' broker.
	OffBus bool `json:"off_bus"`
	// ProbeAnsweredAt is when the server last answered the API's probe
	// while its heartbeats were missing (absent if never).
	ProbeAnsweredAt time.Time `json:"probe_answered_at,omitzero"`
	// APIBusDownSince, when set, is when the API lost the message broker
	// that carries heartbeats: every server's heartbeat age grows from
	// then on without saying anything of the server (a broker outage,
	// not a death). Absent while the API is connected.
	APIBusDownSince time.Time `json:"api_bus_down_since,omitzero"`
}

// ClusterDrain answers POST /v1/servers/{id}/drain.
type ClusterDrain struct {
	Server string    `json:"server"`
	Until  time.Time `json:"until"` // the drain's deadline
	Peers  int       `json:"peers"` // on the server when it was told
}

// ClusterWorker is one worker of a ClusterServer.
type ClusterWorker struct {
	Index    int     `json:"index"`
	Ready    bool    `json:"ready"`
	Load     int     `json:"load"`
	Capacity int     `json:"capacity"`
	Stress   float64 `json:"stress"`
}

// ClusterRoom is a room as `voicectl api` answers it: the directory's entry
// and its server.
type ClusterRoom struct {
	Room        string              `json:"room"`
	Server      string              `json:"server"`
	SignalURL   string              `json:"signal_url"`
	ServerState cluster.ServerState `json:"server_state"` // live, draining, dead, unknown
	CreatedAt   time.Time           `json:"created_at"`
	Moves       int                 `json:"moves"`
}
