package service

import (
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
)

// roomStates is what the orchestration remembers per room: the lock that
// serialises its re-homing (a join and the failover loop may both try), how
// many re-homes and moves are giving it a new home right now (releaseMoved
// leaves such a room alone), when it last moved or was tried (the rebalance
// cooldown and the drain's retry pace), whether a drain already warned
// that it could not move it, and when a move's old home gave it up (its
// heartbeats sent before still list the room; releaseMoved leaves those).
//
// An entry lives only while one of these says something: it goes when its
// last holder lets go, when the room is deleted (forget), or once its
// cooldown has passed (sweep). A long-lived API so keeps state for the rooms
// it is busy with, not for every room it has ever moved.
type roomStates struct {
	// keep is how long a room's last move matters: the longest period
	// cooling and retryDue are asked about (the rebalance cooldown, the
	// heartbeat).
	keep  time.Duration
	mu    sync.Mutex
	rooms map[string]*roomState
}

type roomState struct {
	// held counts the goroutines holding or waiting for rehome.
	held   int
	rehome sync.Mutex
	// placing counts the re-homes and moves giving the room a new home now.
	placing  int
	lastMove time.Time
	stuck    bool
	// gaveUp is the last move's old home and when it gave the room up (by
	// its clock); noted is when the API heard so (by its own).
	gaveUp gaveUp
}

type gaveUp struct {
	server cluster.ServerID
	at     time.Time
	noted  time.Time
}

// precedes reports whether a heartbeat server sent at sent predates this
// giving up of its.
func (g gaveUp) precedes(server cluster.ServerID, sent time.Time) bool {
	return g.server == server && sent.Before(g.at)
}

func newRoomStates(keep time.Duration) *roomStates {
	return &roomStates{keep: keep, rooms: map[string]*roomState{}}
}

// get returns room's entry, made if needed; mu is held.
func (rs *roomStates) get(room string) *roomState {
	st := rs.rooms[room]
	if st == nil {
		st = &roomState{}
		rs.rooms[room] = st
	}
	return st
}

// dropIfIdle forgets room when nothing of its entry matters at now; mu is
// held.
func (rs *roomStates) dropIfIdle(room string, now time.Time) {
	st := rs.rooms[room]
	if st == nil || st.held > 0 || st.placing > 0 {
		return
	}
	if !st.lastMove.IsZero() && now.Sub(st.lastMove) < rs.keep {
		return
	}
	if !st.gaveUp.noted.IsZero() && now.Sub(st.gaveUp.noted) < rs.keep {
		return
	}
	delete(rs.rooms, room)
}

// lockRehome serialises the re-homing of room until unlock is called.
func (rs *roomStates) lockRehome(room string) (unlock func()) {
	rs.mu.Lock()
	st := rs.get(room)
	st.held++
	rs.mu.Unlock()
	st.rehome.Lock()
	return func() {
		st.rehome.Unlock()
		rs.mu.Lock()
		defer rs.mu.Unlock()
		st.held--
		rs.dropIfIdle(room, time.Now())
	}
}

// markPlacing records that room is being given a new home until done is
// called.
func (rs *roomStates) markPlacing(room string) (done func()) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.get(room).placing++
	return func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if st := rs.rooms[room]; st != nil {
			st.placing--
		}
		rs.dropIfIdle(room, time.Now())
	}
}

// markGaveUp records that server gave room up at at (its clock), heard at
// now.
func (rs *roomStates) markGaveUp(room string, server cluster.ServerID, at, now time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.get(room).gaveUp = gaveUp{server: server, at: at, noted: now}
}

// sentBeforeGivingUp reports whether a heartbeat of server's sent at sent
// predates its giving room up: heartbeats are published on their own, and
// one built before the move can reach the API after the move's answer.
func (rs *roomStates) sentBeforeGivingUp(room string, server cluster.ServerID, sent time.Time) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := rs.rooms[room]
	return st != nil && st.gaveUp.precedes(server, sent)
}

// gaveUpAfter reports whether server gave a room up after sent (its
// clock): a heartbeat it sent at sent still counts that room's load.
func (rs *roomStates) gaveUpAfter(server cluster.ServerID, sent time.Time) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, st := range rs.rooms {
		if st.gaveUp.precedes(server, sent) {
			return true
		}
	}
	return false
}

// isPlacing reports whether room is being given a new home now.
func (rs *roomStates) isPlacing(room string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := rs.rooms[room]
	return st != nil && st.placing > 0
}

// cooling reports whether room moved (or was tried) within every before now.
func (rs *roomStates) cooling(room string, every time.Duration, now time.Time) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.coolingLocked(room, every, now)
}

func (rs *roomStates) coolingLocked(room string, every time.Duration, now time.Time) bool {
	st := rs.rooms[room]
	return st != nil && !st.lastMove.IsZero() && now.Sub(st.lastMove) < every
}

// markMoved starts room's cooldown at now.
func (rs *roomStates) markMoved(room string, now time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.get(room).lastMove = now
}

// retryDue reports whether room may be tried again: it last moved (or was
// tried) longer than every before now; a true answer starts a new period.
func (rs *roomStates) retryDue(room string, every time.Duration, now time.Time) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.coolingLocked(room, every, now) {
		return false
	}
	rs.get(room).lastMove = now
	return true
}

// stuckOnce records that room could not move yet and reports whether that
// is news (the warning is said once per room and drain).
func (rs *roomStates) stuckOnce(room string) (first bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := rs.get(room)
	first, st.stuck = !st.stuck, true
	return first
}

// unstuck records that room moved after all.
func (rs *roomStates) unstuck(room string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if st := rs.rooms[room]; st != nil {
		st.stuck = false
	}
}

// forget drops what is known of a deleted room; a holder still busy with it
// drops the rest when it lets go.
func (rs *roomStates) forget(room string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if st := rs.rooms[room]; st != nil {
		st.lastMove, st.stuck, st.gaveUp = time.Time{}, false, gaveUp{}
		rs.dropIfIdle(room, time.Now())
	}
}

// sweep drops the rooms whose cooldown has passed at now and that nobody
// holds (a stuck room is tried every heartbeat, so its entry stays while it
// is tried).
func (rs *roomStates) sweep(now time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for room := range rs.rooms {
		rs.dropIfIdle(room, now)
	}
}

// len is how many rooms have state.
func (rs *roomStates) len() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.rooms)
}
