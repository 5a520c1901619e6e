package wire

import (
	"math"
	"time"
)

// Admin API types (/admin/v1, docs/admin-api.md).

// AdminWorker is one worker's state and load.
type AdminWorker struct {
	Index    int  `json:"index"`
	PID      int  `json:"pid"`
	Port     int  `json:"port"`
	Ready    bool `json:"ready"`
	Restarts int  `json:"restarts"`

	Routers       int `json:"routers"`
	Transports    int `json:"transports"`
	Producers     int `json:"producers"`
	Consumers     int `json:"consumers"`
	Pipes         int `json:"pipes"`
	PipeConsumers int `json:"pipe_consumers"`
	PipeProducers int `json:"pipe_producers"`

	// Load is consumers + producers + pipe consumers, measured on the worker.
	Load int `json:"load"`
	// ReservedLoad is the load control accounts for admission (what its peers will
	// cost once all publishers produce).
	ReservedLoad int     `json:"reserved_load"`
	Capacity     int     `json:"capacity"`
	Stress       float64 `json:"stress"`

	PacketsInPerSecond  float64 `json:"packets_in_per_second"`
	PacketsOutPerSecond float64 `json:"packets_out_per_second"`
	PacketsIn           uint64  `json:"packets_in"`
	PacketsOut          uint64  `json:"packets_out"`
	CPUSeconds          float64 `json:"cpu_seconds"`
	// CPUPercent is the share of one core used over the last sampling interval.
	CPUPercent float64 `json:"cpu_percent"`
	// ForwardDelayMs* are quantiles, since the worker started, of the time from a
	// packet's arrival to its last copy written to a listener.
	ForwardDelayMsP50 float64 `json:"forward_delay_ms_p50"`
	ForwardDelayMsP99 float64 `json:"forward_delay_ms_p99"`
	// ForwardDelayBuckets is the histogram behind them: bucket i counts delays up
	// to 2^(i/4) µs since the worker started. The difference of two readings
	// gives an interval's quantiles (ForwardDelayQuantileMs).
	ForwardDelayBuckets []uint64 `json:"forward_delay_buckets,omitempty"`
	// HeapAllocs counts heap objects the worker allocated since it started.
	HeapAllocs uint64 `json:"heap_allocs"`
	// The worker process's goroutines, resident memory and open file
	// descriptors, for leak checks (make soak).
	Goroutines int    `json:"goroutines"`
	RSSBytes   uint64 `json:"rss_bytes"`
	OpenFiles  int    `json:"open_files"`
	HeapBytes  uint64 `json:"heap_bytes"` // live and not yet swept heap objects
}

// AdminProcess is the control process's own figures (GET /admin/v1/process).
type AdminProcess struct {
	PID        int    `json:"pid"`
	Goroutines int    `json:"goroutines"`
	RSSBytes   uint64 `json:"rss_bytes"`
	OpenFiles  int    `json:"open_files"`
	// HeapAllocs counts heap objects allocated since the process started,
	// HeapBytes the bytes of live and not yet swept heap objects.
	HeapAllocs uint64 `json:"heap_allocs"`
	HeapBytes  uint64 `json:"heap_bytes"`
}

// ForwardDelayQuantileMs is quantile q of a forward-delay histogram (see
// AdminWorker.ForwardDelayBuckets): the upper bound, in milliseconds, of the
// bucket that holds it; 0 for an empty histogram.
func ForwardDelayQuantileMs(buckets []uint64, q float64) float64 {
	var total uint64
	for _, c := range buckets {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range buckets {
		seen += c
		if seen >= rank {
			return math.Pow(2, float64(i)/4) / 1000
		}
	}
	return math.Pow(2, float64(len(buckets)-1)/4) / 1000
}

// AdminRouter is a room's router on one worker.
type AdminRouter struct {
	ID     string `json:"id"`
	Worker int    `json:"worker"`
	Peers  int    `json:"peers"`
	// Server is the server the router is on, set when that is not this one
	// (a relay router).
	Server string `json:"server,omitempty"`
}

// AdminRoom summarises a room.
type AdminRoom struct {
	ID         string        `json:"id"`
	Peers      int           `json:"peers"`
	Publishers int           `json:"publishers"`
	Routers    []AdminRouter `json:"routers"`
	Pipes      int           `json:"pipes"`
	Speakers   []Speaker     `json:"speakers"`
	CreatedAt  time.Time     `json:"created_at"`
}

// AdminPeer is one peer of a room.
type AdminPeer struct {
	ID         string    `json:"id"`
	Identity   string    `json:"identity"`
	Worker     int       `json:"worker"`
	Router     string    `json:"router"`
	Server     string    `json:"server,omitempty"` // its router's server, when a relay
	Publishing bool      `json:"publishing"`
	Muted      bool      `json:"muted"`
	ProducerID string    `json:"producer_id,omitempty"`
	JoinedAt   time.Time `json:"joined_at"`
	// Path is how the peer's media reaches the server (one of PeerPaths),
	// "" until its ICE selected a pair; RemoteAddress is the far end of
	// that pair (ip:port): for a TURN path, the relayed address on the TURN
	// server, not the client's own.
	Path          string `json:"path"`
	RemoteAddress string `json:"remote_address,omitempty"`
	// Quality is the peer's connection quality (PeerQuality's level), ""
	// until first measured; Score is 0-100. Loss (a fraction, 0..1),
	// JitterMs and RTTMs are what it was scored on: the worse of its
	// listener's receiver reports and its own stream into the server; RTTMs
	// is 0 when its reports tell none.
	Quality  string  `json:"quality"`
	Score    int     `json:"score"`
	Loss     float64 `json:"loss"`
	JitterMs float64 `json:"jitter_ms"`
	RTTMs    float64 `json:"rtt_ms"`
}

// The paths a peer's media takes (AdminPeer.Path), as the worker's selected
// ICE candidate pair shows them.
const (
	PathUDP     = "udp"      // direct UDP
	PathTCP     = "tcp"      // ICE over TCP, RFC 6544
	PathTURNUDP = "turn/udp" // through the embedded TURN server (RFC 8656), client to TURN over UDP
	PathTURNTCP = "turn/tcp" // client to TURN over TCP (RFC 6062 framing)
	PathTURNTLS = "turn/tls" // client to TURN over TLS
	// PathTURN is a relayed pair whose TURN transport the server cannot
	// tell: no embedded TURN server, or the client's own TURN server.
	PathTURN = "turn"
)

// PeerPaths are every path a connected peer can have, in a stable order
// (metrics label them all from the start).
var PeerPaths = []string{PathUDP, PathTCP, PathTURNUDP, PathTURNTCP, PathTURNTLS, PathTURN}

// AdminPipeFlow is one producer crossing a pipe.
type AdminPipeFlow struct {
	ProducerID string `json:"producer_id"`
	From       int    `json:"from_worker"`
	To         int    `json:"to_worker"`
	SSRC       uint32 `json:"ssrc"`
	Consumers  int    `json:"consumers"`
}

// AdminPipe is a pipe between two routers of a room.
type AdminPipe struct {
	ID      string          `json:"id"`
	Room    string          `json:"room"`
	Workers []int           `json:"workers"`
	Routers []string        `json:"routers"`
	Addrs   []string        `json:"addrs"`
	Flows   []AdminPipeFlow `json:"flows"`
	// Servers are the two ends' servers (set on a pipe between hosts) and
	// SRTP whether the pipe is protected.
	Servers []string `json:"servers,omitempty"`
	SRTP    bool     `json:"srtp,omitempty"`
}

// AdminRoomDetail is a room with its peers and pipes.
type AdminRoomDetail struct {
	AdminRoom
	PeerList []AdminPeer `json:"peer_list"`
	PipeList []AdminPipe `json:"pipe_list"`
}

// AdminMute is the body of a mute action.
type AdminMute struct {
	Muted *bool `json:"muted,omitempty"`
}

// AdminResult answers an action.
type AdminResult struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// Error codes of the admin API and of actions as seen by clients.
const (
	CodeNotFound   Code = "not_found"
	CodeRoomClosed Code = "room_closed" // an admin closed the room
	CodeKicked     Code = "kicked"      // an admin removed this peer
)
