package bus

import "github.com/voicectl/voicectl/server/cluster"

// The control plane's methods: each message type with its request and reply.
var (
	// CreateRoom goes to RoomsQueue (any server with room) or to one server.
	CreateRoom = Method[cluster.RoomCreate, cluster.RoomInfo]{Type: "room.create"}
	// CloseRoom, ReleaseRoom, KickPeer, MutePeer and Drain go to one server.
	CloseRoom   = Method[cluster.RoomRef, cluster.Result]{Type: "room.close"}
	ReleaseRoom = Method[cluster.RoomRef, cluster.Result]{Type: "room.release"}
	KickPeer    = Method[cluster.PeerCommand, cluster.Result]{Type: "peer.kick"}
	MutePeer    = Method[cluster.PeerCommand, cluster.Result]{Type: "peer.mute"}
	Drain       = Method[struct{}, cluster.Result]{Type: "server.drain"}
)

// Event types and their routing keys on EventsExchange.
const (
	TypeHeartbeat = "heartbeat"
)

// HeartbeatKey is the routing key of a server's heartbeats.
func HeartbeatKey(id cluster.ServerID) string { return "heartbeat." + string(id) }
