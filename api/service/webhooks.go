package service

import (
	"time"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/webhook"
)

// Events receives the API's own webhook events: room_moved and
// server_dead (the servers send their rooms' own). `voicectl api` queues
// them on disk and hands them to the bus's durable webhooks queue, which it
// also delivers (server/webhook/delivery).
type Events interface {
	Emit(ev webhook.Event)
}

// roomMoved tells the app a room has a new home.
func (o *Orchestrator) roomMoved(room string, from, to cluster.ServerID) {
	if o.p.Events == nil {
		return
	}
	ev := webhook.New(webhook.RoomMoved, time.Now())
	ev.Room, ev.Server, ev.From = room, string(to), string(from)
	o.p.Events.Emit(ev)
}

// serverDead tells the app a server was declared dead, with its rooms
// (each then gets its room_moved as it is re-homed).
func (o *Orchestrator) serverDead(id cluster.ServerID, rooms []string) {
	if o.p.Events == nil {
		return
	}
	ev := webhook.New(webhook.ServerDead, time.Now())
	ev.Server, ev.Rooms = string(id), rooms
	o.p.Events.Emit(ev)
}
