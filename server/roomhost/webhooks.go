package roomhost

import (
	"time"

	"github.com/voicectl/voicectl/server/webhook"
)

// Events receives the room host's webhook events (room_started,
// room_finished, participant_joined, participant_left). Emit is called
// under the room's lock, so a room's events reach it in the room's order;
// it must not block on the network (server/webhook/delivery writes them to
// its on-disk queue and returns).
type Events interface {
	Emit(ev webhook.Event)
}

// emitLocked sends one of r's events, if anyone listens; r.mu is held.
func (h *Host) emitLocked(r *room, typ string, p *peer) {
	if h.events == nil {
		return
	}
	ev := webhook.New(typ, time.Now())
	ev.Room, ev.Server = r.id, string(h.server)
	if p != nil {
		ev.Participant = &webhook.Participant{ID: p.id, Identity: p.identity, Publish: p.publish}
		if typ == webhook.ParticipantLeft {
			ev.Reason = p.leaveReason
			if ev.Reason == "" {
				ev.Reason = webhook.ReasonLeft
			}
		}
	}
	h.events.Emit(ev)
}

// finishedLocked sends room_finished for a room that just emptied, once it
// had started (its last peer left, or a join that held it open failed).
func (h *Host) finishedLocked(r *room, empty bool) {
	if empty && r.started {
		r.started = false
		h.emitLocked(r, webhook.RoomFinished, nil)
	}
}

// setLeaveReason records why p is about to leave, for its participant_left
// (the first reason given stands).
func setLeaveReason(p *peer, reason string) {
	r := p.room
	r.mu.Lock()
	if p.leaveReason == "" {
		p.leaveReason = reason
	}
	r.mu.Unlock()
}

// TimedOut records that a peer leaves because it did not come back in
// time (its dropped connection was not resumed within the window): the
// signalling layer calls it before Leave.
func (h *Host) TimedOut(peerID string) {
	if p := h.peer(peerID); p != nil {
		setLeaveReason(p, webhook.ReasonTimedOut)
	}
}
