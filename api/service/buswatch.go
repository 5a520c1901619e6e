package service

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"sync"
	"time"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
)

// typeAPIBeat is the API's own beat on the heartbeats' exchange. Servers
// read no server in it and drop it.
const typeAPIBeat = "api.beat"

// busWatch tells the API's own bus outage from the servers' silence, faster
// than the AMQP heartbeat does (a frozen broker keeps the TCP connection up
// for seconds): the API publishes a beat of its own every heartbeat/4 and
// watches it come back through its heartbeat subscription. While no beat
// has come back within a heartbeat the broker carries nothing to the API,
// so missing heartbeats say nothing about the servers.
type busWatch struct {
	id     cluster.ServerID
	window time.Duration
	// quiet is how long no own beat may come back before the API's answers
	// say it is off the broker (downSince): at least window, and never under
	// minBusQuiet, so that a loaded machine's late beat refuses no create.
	quiet time.Duration

	mu   sync.Mutex
	back time.Time // when the last own beat came back
}

func newBusWatch(heartbeat time.Duration) *busWatch {
	// back starts at now: until one heartbeat has passed without a beat
	// coming back, the API counts as on the broker.
	return &busWatch{id: cluster.ServerID("api-" + rand.Text()[:10]), window: heartbeat,
		quiet: max(heartbeat, minBusQuiet), back: time.Now()}
}

// minBusQuiet is the shortest silence of the API's own beats that its
// answers call a broker outage. The failover stops declaring servers dead
// from the first missed window (a doubt costs nothing there); a refusal
// costs a client its request, so it waits for a silence no scheduling
// hiccup makes.
const minBusQuiet = time.Second

// downSince is when the last own beat came back, while none has for quiet
// before now (the broker carries nothing to the API: frozen, or the
// connection is gone); zero while beats come back.
func (w *busWatch) downSince(now time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Sub(w.back) <= w.quiet {
		return time.Time{}
	}
	return w.back
}

// lastBack is when the last own beat came back: the API heard the broker
// until then.
func (w *busWatch) lastBack() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.back
}

// up reports whether an own beat came back within the window before now.
func (w *busWatch) up(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return now.Sub(w.back) <= w.window
}

// heard takes an event off the heartbeat subscription; it reports whether
// it was one of the API's beats (its own or another replica's).
func (w *busWatch) heard(e bus.Envelope, at time.Time) bool {
	if e.Type != typeAPIBeat {
		return false
	}
	if e.From == w.id {
		w.mu.Lock()
		w.back = at
		w.mu.Unlock()
	}
	return true
}

// beat publishes one own beat.
func (w *busWatch) beat(b bus.Bus) {
	ctx, cancel := context.WithTimeout(context.Background(), w.window)
	defer cancel()
	body, _ := json.Marshal(struct {
		SentAt time.Time `json:"sent_at"`
	}{time.Now()})
	_ = b.Publish(ctx, bus.HeartbeatKey(w.id), bus.Envelope{Type: typeAPIBeat, From: w.id, Body: body})
}

// beatLoop publishes own beats until stop.
func (o *Orchestrator) beatLoop() {
	defer o.wg.Done()
	tk := time.NewTicker(max(o.p.Heartbeat/4, 25*time.Millisecond))
	defer tk.Stop()
	for {
		o.watch.beat(o.p.Bus)
		select {
		case <-o.stop:
			return
		case <-tk.C:
		}
	}
}
