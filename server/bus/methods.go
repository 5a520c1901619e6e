package bus

import (
	"encoding/json"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// The control plane's methods: each message type with its request and reply.
var (
	// CreateRoom goes to RoomsQueue (any server with room) or to one server.
	CreateRoom = Method[cluster.RoomCreate, cluster.RoomInfo]{Type: "room.create"}
	// CloseRoom, ReleaseRoom, KickPeer, MutePeer and Drain go to one server.
	CloseRoom   = Method[cluster.RoomRef, cluster.Result]{Type: "room.close"}
	ReleaseRoom = Method[cluster.RoomRef, cluster.Result]{Type: "room.release"}
	KickPeer    = Method[cluster.PeerCommand, cluster.Result]{Type: "peer.kick"}
	MutePeer    = Method[cluster.PeerCommand, cluster.Result]{Type: "peer.mute"}
	Drain       = Method[cluster.DrainRequest, cluster.DrainAnswer]{Type: "server.drain"}
	// MoveRoom tells a room's old server to send its peers to the new one.
	MoveRoom = Method[cluster.RoomMove, cluster.Result]{Type: "room.move"}
	// RoomPeers asks a room's server for the room with its peers and their
	// connection quality, as its admin API answers GET /admin/v1/rooms/{room}.
	RoomPeers = Method[cluster.RoomRef, wire.AdminRoomDetail]{Type: "room.peers"}
)

// Event types and their routing keys on EventsExchange.
const (
	TypeHeartbeat = "heartbeat"
)

// HeartbeatKey is the routing key of a server's heartbeats.
func HeartbeatKey(id cluster.ServerID) string { return "heartbeat." + string(id) }

// Relays: the owner of a room asks another server for a router
// (PlaceRelay, on the server's queue; ReleaseRelay when it gave up on the
// answer) and then works that router and its transports and pipes through
// CallWorker (on WorkersQueue); the relay sends the worker's events for it
// to the owner on WorkerEventKey(owner). A CallWorker request is typed
// (WorkerCall holds an ipc.Request); its reply is the worker's as the
// worker wrote it, which the owner decodes into its method's reply type
// (ipc.Method), as it would a local worker's.
var (
	PlaceRelay   = Method[cluster.RelayPlace, cluster.RelayPlaced]{Type: "relay.place"}
	ReleaseRelay = Method[cluster.RelayRelease, cluster.Result]{Type: "relay.release"}
	CallWorker   = Method[WorkerCall, json.RawMessage]{Type: "worker.call"}
)

// TypeWorkerEvent is a relay worker's event for a room's owner.
const TypeWorkerEvent = "worker.event"

// WorkerEventKey is the routing key of the worker events for one owner.
func WorkerEventKey(owner cluster.ServerID) string { return "worker.event." + string(owner) }

// HeartbeatPattern matches every server's heartbeats.
const HeartbeatPattern = "heartbeat.*"
