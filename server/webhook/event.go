// Package webhook is what a voicectl webhook is, on both ends: the events
// (event.go) and their signature (signature.go). The sender (server/webhook/
// delivery, the API) and `voicectl webhooks listen|verify` use this one
// package, so that what one signs the other checks byte for byte. It has no
// dependencies beyond the standard library.
package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Event types.
const (
	// RoomStarted: the room's first participant joined on its server.
	RoomStarted = "room_started"
	// RoomFinished: the room's last participant left its server.
	RoomFinished = "room_finished"
	// ParticipantJoined: a participant was admitted and announced to the room.
	ParticipantJoined = "participant_joined"
	// ParticipantLeft: a participant left; Reason says why.
	ParticipantLeft = "participant_left"
	// RoomMoved: the API gave the room a new home (From → To).
	RoomMoved = "room_moved"
	// ServerDead: the API declared a server dead (silent past
	// cluster.dead_after); Rooms were its rooms, re-homed from here on.
	ServerDead = "server_dead"
)

// Types lists every event type, in the order the docs give them.
var Types = []string{RoomStarted, RoomFinished, ParticipantJoined, ParticipantLeft, RoomMoved, ServerDead}

// Reasons a participant left.
const (
	// ReasonLeft: the client left or its connection ended.
	ReasonLeft = "left"
	// ReasonKicked: an administrator removed it (or closed the room).
	ReasonKicked = "kicked"
	// ReasonTimedOut: its media never connected (signal.join_timeout), or
	// its dropped connection was not resumed within signal.resume_window.
	ReasonTimedOut = "timed_out"
	// ReasonMoved: its room moved to another server, or its server gave the
	// room up; the client joins again there.
	ReasonMoved = "moved"
)

// Event is one webhook's JSON body.
type Event struct {
	// ID is unique per event and stays the same across retries and
	// redeliveries: receivers deduplicate by it.
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Room is the room the event is about; empty for server_dead.
	Room string `json:"room,omitempty"`
	// Server is the server that hosts the room (for server_dead: the dead
	// one; for room_moved: the new home).
	Server      string       `json:"server,omitempty"`
	Participant *Participant `json:"participant,omitempty"`
	// Reason is why a participant left (Reason*).
	Reason string `json:"reason,omitempty"`
	// From is a moved room's previous server.
	From string `json:"from,omitempty"`
	// Rooms are a dead server's rooms.
	Rooms []string `json:"rooms,omitempty"`
}

// Participant is who joined or left.
type Participant struct {
	ID       string `json:"id"`
	Identity string `json:"identity"`
	Publish  bool   `json:"publish"`
}

// OrderKey is what events are kept in order by: the room, or for an event
// without one the server it is about. Events with different keys are
// delivered independently.
func (e Event) OrderKey() string {
	if e.Room != "" {
		return "room:" + e.Room
	}
	return "server:" + e.Server
}

// New returns an event of type typ with a fresh id and the time now.
func New(typ string, now time.Time) Event {
	return Event{ID: NewID(), Type: typ, Time: now.UTC()}
}

// NewID returns a random event id ("EV_" and 24 hex digits).
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "EV_" + hex.EncodeToString(b[:])
}
