package adminapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/voicectl/voicectl/server/internal/httpx"
	"github.com/voicectl/voicectl/server/wire"
)

func (a *API) rooms(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, a.p.Rooms.Rooms())
}

func (a *API) room(w http.ResponseWriter, req *http.Request) {
	d, err := a.p.Rooms.Room(req.PathValue("room"))
	if err != nil {
		httpx.Fail(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d)
}

func (a *API) closeRoom(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("room")
	n, err := a.p.Rooms.CloseRoom(name)
	if err != nil {
		httpx.Fail(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("room %s closed; %d peers removed", name, n)})
}

func (a *API) kick(w http.ResponseWriter, req *http.Request) {
	p, err := a.p.Rooms.Kick(req.PathValue("room"), req.PathValue("peer"))
	if err != nil {
		httpx.Fail(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("peer %s (%s) kicked", p.ID, p.Identity)})
}

func (a *API) mute(w http.ResponseWriter, req *http.Request) {
	var body wire.AdminMute
	if req.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 4096)).Decode(&body); err != nil {
			httpx.Error(w, http.StatusBadRequest, wire.CodeBadRequest, "body: "+err.Error())
			return
		}
	}
	muted := body.Muted == nil || *body.Muted
	p, err := a.p.Rooms.MutePeer(req.PathValue("room"), req.PathValue("peer"), muted)
	if err != nil {
		httpx.Fail(w, err)
		return
	}
	word := "muted"
	if !muted {
		word = "unmuted"
	}
	httpx.WriteJSON(w, http.StatusOK, wire.AdminResult{OK: true, Message: fmt.Sprintf("peer %s (%s) %s", p.ID, p.Identity, word)})
}

func (a *API) pipes(w http.ResponseWriter, _ *http.Request) {
	out := a.p.Rooms.Pipes()
	slices.SortFunc(out, func(a, b wire.AdminPipe) int { return strings.Compare(a.Room+a.ID, b.Room+b.ID) })
	httpx.WriteJSON(w, http.StatusOK, out)
}

// drain starts this server's drain (body {"deadline": "5m"}, or none for
// drain.deadline): what SIGTERM does, for a preStop hook or an operator.
func (a *API) drain(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Deadline string `json:"deadline"`
	}
	if req.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			httpx.Error(w, http.StatusBadRequest, wire.CodeBadRequest, "body: "+err.Error())
			return
		}
	}
	var d time.Duration
	if body.Deadline != "" {
		var err error
		if d, err = time.ParseDuration(body.Deadline); err != nil || d <= 0 {
			httpx.Error(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("deadline %q is not a positive duration like 5m", body.Deadline))
			return
		}
	}
	until := a.p.Drain(d)
	_, peers := a.p.Rooms.Counts()
	httpx.WriteJSON(w, http.StatusOK, wire.ClusterDrain{Server: string(a.p.ServerID), Until: until, Peers: peers})
}
