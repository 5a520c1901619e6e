package control

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/coder/websocket"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// adminHandler serves /admin/v1 (docs/admin-api.md) behind the admin key.
func (c *Control) adminHandler(mux *http.ServeMux) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, c.requireAdmin(f)) }
	h("GET /admin/v1/workers", c.adminWorkers)
	h("GET /admin/v1/rooms", c.adminRooms)
	h("GET /admin/v1/rooms/{room}", c.adminRoom)
	h("DELETE /admin/v1/rooms/{room}", c.adminCloseRoom)
	h("POST /admin/v1/rooms/{room}/close", c.adminCloseRoom)
	h("POST /admin/v1/rooms/{room}/peers/{peer}/kick", c.adminKick)
	h("DELETE /admin/v1/rooms/{room}/peers/{peer}", c.adminKick)
	h("POST /admin/v1/rooms/{room}/peers/{peer}/mute", c.adminMute)
	h("GET /admin/v1/pipes", c.adminPipes)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		mux.Handle(m+" /admin/{rest...}", c.requireAdmin(func(w http.ResponseWriter, r *http.Request) {
			httpError(w, http.StatusNotFound, wire.CodeNotFound, "no admin endpoint "+r.Method+" "+r.URL.Path)
		}))
	}
}

func (c *Control) requireAdmin(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.adminKey == "" {
			httpError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "the admin API is disabled: set auth.admin_key")
			return
		}
		got := bearerHeader(r)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.adminKey)) != 1 {
			httpError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "missing or wrong admin key")
			return
		}
		next(w, r)
	})
}

func (c *Control) adminWorkers(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	reserved := c.modelLoadLocked()
	c.mu.Unlock()
	out := make([]wire.AdminWorker, 0, len(c.slots))
	for i, s := range c.slots {
		st := s.status()
		aw := wire.AdminWorker{Index: i, PID: st.PID, Port: st.Port, Ready: st.Ready, Restarts: st.Restarts,
			ReservedLoad: reserved[i].Units(), Capacity: c.cfg.Worker.MaxConsumers}
		if st.Ready {
			var l ipc.Load
			if err := s.call(r.Context(), ipc.MethodLoad, nil, &l); err == nil {
				aw.Routers, aw.Transports, aw.Producers, aw.Consumers = l.Routers, l.Transports, l.Producers, l.Consumers
				aw.Pipes, aw.PipeConsumers, aw.PipeProducers = l.Pipes, l.PipeConsumers, l.PipeProducers
				aw.PacketsIn, aw.PacketsOut = l.PacketsIn, l.PacketsOut
				aw.ForwardDelayMsP50, aw.ForwardDelayMsP99 = l.ForwardDelayMsP50, l.ForwardDelayMsP99
				aw.ForwardDelayBuckets = l.ForwardDelayBuckets
				aw.HeapAllocs = l.HeapAllocs
				aw.Load = l.Consumers + l.Producers + l.PipeConsumers
			}
			if cpu, err := processCPUSeconds(st.PID); err == nil {
				aw.CPUSeconds = cpu
			}
			if smp, ok := c.lastSample(i); ok && smp.pid == st.PID {
				aw.PacketsInPerSecond, aw.PacketsOutPerSecond, aw.CPUPercent = smp.inRate, smp.outRate, smp.cpuPct
			}
		}
		aw.Stress = float64(max(aw.Load, aw.ReservedLoad)) / float64(aw.Capacity)
		out = append(out, aw)
	}
	writeJSON(w, http.StatusOK, out)
}

// roomSummaryLocked describes r; the caller holds c.mu.
func (c *Control) roomSummaryLocked(r *room) wire.AdminRoom {
	ar := wire.AdminRoom{ID: r.id, Peers: len(r.peers), CreatedAt: r.created, Routers: []wire.AdminRouter{}, Speakers: []wire.Speaker{}}
	perRouter := map[*roomRouter]int{}
	for _, p := range r.peers {
		perRouter[p.router]++
		if p.publish {
			ar.Publishers++
		}
	}
	for _, rr := range r.routers {
		ar.Routers = append(ar.Routers, wire.AdminRouter{ID: rr.id, Worker: rr.worker, Peers: perRouter[rr]})
	}
	sort.Slice(ar.Routers, func(i, j int) bool { return ar.Routers[i].Worker < ar.Routers[j].Worker })
	for _, sp := range r.speakers {
		if p := r.peers[sp.PeerID]; p != nil {
			sp.Identity = p.identity
		}
		ar.Speakers = append(ar.Speakers, sp)
	}
	return ar
}

func (c *Control) adminRooms(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	rooms := make([]*room, 0, len(c.rooms))
	for _, r := range c.rooms {
		rooms = append(rooms, r)
	}
	out := make([]wire.AdminRoom, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, c.roomSummaryLocked(r))
	}
	c.mu.Unlock()
	for i, r := range rooms {
		out[i].Pipes = len(c.pipesOf(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (c *Control) roomByName(w http.ResponseWriter, name string) *room {
	c.mu.Lock()
	r := c.rooms[name]
	c.mu.Unlock()
	if r == nil {
		httpError(w, http.StatusNotFound, wire.CodeNotFound, fmt.Sprintf("room %q not found", name))
	}
	return r
}

// pipesOf describes r's pipes; it waits for the room's current media change.
func (c *Control) pipesOf(r *room) []wire.AdminPipe {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	out := []wire.AdminPipe{}
	for k, pp := range r.pipes {
		ap := wire.AdminPipe{ID: pp.id, Room: r.id, Workers: []int{k.a, k.b}, Flows: []wire.AdminPipeFlow{}}
		for _, wk := range []int{k.a, k.b} {
			ap.Routers = append(ap.Routers, pp.routers[wk].id)
			ap.Addrs = append(ap.Addrs, pp.addrs[wk])
		}
		for fk, f := range pp.flows {
			ap.Flows = append(ap.Flows, wire.AdminPipeFlow{ProducerID: fk.producerID, From: f.from.worker, To: f.to.worker, SSRC: f.ssrc, Consumers: f.refs})
		}
		sort.Slice(ap.Flows, func(i, j int) bool { return ap.Flows[i].ProducerID < ap.Flows[j].ProducerID })
		out = append(out, ap)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *Control) adminRoom(w http.ResponseWriter, req *http.Request) {
	r := c.roomByName(w, req.PathValue("room"))
	if r == nil {
		return
	}
	pipes := c.pipesOf(r)
	c.mu.Lock()
	d := wire.AdminRoomDetail{AdminRoom: c.roomSummaryLocked(r), PeerList: []wire.AdminPeer{}, PipeList: pipes}
	for _, p := range r.sortedPeers() {
		ap := wire.AdminPeer{ID: p.id, Identity: p.identity, Worker: p.router.worker, Router: p.router.id,
			Publishing: p.producing, Muted: p.muted, JoinedAt: p.joinedAt}
		if p.producing {
			ap.ProducerID = p.producerID
		}
		d.PeerList = append(d.PeerList, ap)
	}
	c.mu.Unlock()
	d.Pipes = len(pipes)
	writeJSON(w, http.StatusOK, d)
}

func (c *Control) adminCloseRoom(w http.ResponseWriter, req *http.Request) {
	r := c.roomByName(w, req.PathValue("room"))
	if r == nil {
		return
	}
	c.mu.Lock()
	sess := r.allSessions()
	c.mu.Unlock()
	for _, s := range sess {
		s.sendError("", wire.CodeRoomClosed, "an administrator closed this room", true)
		s.finish(websocket.StatusNormalClosure, wire.CodeRoomClosed)
	}
	c.log.Info("room closed by admin", "room", r.id, "peers", len(sess))
	writeJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("room %s closed; %d peers removed", r.id, len(sess))})
}

func (c *Control) peerByName(w http.ResponseWriter, req *http.Request) *peer {
	r := c.roomByName(w, req.PathValue("room"))
	if r == nil {
		return nil
	}
	id := req.PathValue("peer")
	c.mu.Lock()
	p := r.peers[id]
	if p == nil {
		for _, q := range r.sortedPeers() { // an identity works too
			if q.identity == id {
				p = q
				break
			}
		}
	}
	c.mu.Unlock()
	if p == nil {
		httpError(w, http.StatusNotFound, wire.CodeNotFound, fmt.Sprintf("peer %q not found in room %q", id, r.id))
	}
	return p
}

func (c *Control) adminKick(w http.ResponseWriter, req *http.Request) {
	p := c.peerByName(w, req)
	if p == nil {
		return
	}
	p.sess.sendError("", wire.CodeKicked, "an administrator removed you from this room", true)
	p.sess.finish(websocket.StatusNormalClosure, wire.CodeKicked)
	c.log.Info("peer kicked by admin", "room", p.room.id, "peer", p.id)
	writeJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("peer %s (%s) kicked", p.id, p.identity)})
}

func (c *Control) adminMute(w http.ResponseWriter, req *http.Request) {
	p := c.peerByName(w, req)
	if p == nil {
		return
	}
	var body wire.AdminMute
	if req.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 4096)).Decode(&body); err != nil {
			httpError(w, http.StatusBadRequest, wire.CodeBadRequest, "body: "+err.Error())
			return
		}
	}
	muted := body.Muted == nil || *body.Muted
	if err := c.setMuted(p, muted); err != nil {
		status, code := http.StatusInternalServerError, wire.CodeInternal
		if err == ErrNotProducer {
			status, code = http.StatusConflict, wire.CodePublishNotAllowed
		}
		httpError(w, status, code, err.Error())
		return
	}
	word := "muted"
	if !muted {
		word = "unmuted"
	}
	writeJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("peer %s (%s) %s", p.id, p.identity, word)})
}

func (c *Control) adminPipes(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	rooms := make([]*room, 0, len(c.rooms))
	for _, r := range c.rooms {
		rooms = append(rooms, r)
	}
	c.mu.Unlock()
	out := []wire.AdminPipe{}
	for _, r := range rooms {
		out = append(out, c.pipesOf(r)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Room+out[i].ID < out[j].Room+out[j].ID })
	writeJSON(w, http.StatusOK, out)
}
