package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/web"
	"github.com/voicectl/voicectl/server/wire"
)

// Handler serves signalling, health, the dev token endpoint and the browser page.
func (c *Control) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/rtc", c.serveRTC)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", c.serveReady)
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"dev": c.cfg.Dev, "version": c.version})
	})
	mux.HandleFunc("GET /v1/dev/token", c.serveDevToken)
	if c.gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(c.gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelWarn)}))
	}
	c.adminHandler(mux)
	mux.Handle("GET /", web.Handler())
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wire.HTTPError{Code: code, Message: msg})
}

func (c *Control) serveReady(w http.ResponseWriter, _ *http.Request) {
	ready := c.sup.Ready()
	draining := c.host.Draining()
	status := http.StatusOK
	if ready == 0 || draining {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"workers": c.sup.Len(), "workers_ready": ready, "draining": draining})
}

func bearer(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	return bearerHeader(r)
}

func bearerHeader(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// serveRTC checks the join token before upgrading, so no unauthorised client ever
// reaches the signalling protocol.
func (c *Control) serveRTC(w http.ResponseWriter, r *http.Request) {
	if limit := c.conns.take(r.RemoteAddr); limit != "" {
		c.refuseConnection(w, limit)
		return
	}
	defer c.conns.release(r.RemoteAddr)
	g, err := auth.Verify(c.secret, bearer(r))
	if err != nil {
		// The client learns which of three things went wrong, not what the
		// JWT parser said (that stays in the debug log).
		code, msg := wire.CodeUnauthorized, "the join token is missing, malformed, not signed by this cluster, or out of bounds"
		switch {
		case errors.Is(err, auth.ErrExpiredToken):
			code, msg = wire.CodeTokenExpired, "the join token has expired; get a new one"
		case errors.Is(err, auth.ErrMissingToken):
			msg = "no join token: send it as Authorization: Bearer or ?token="
		}
		c.log.Debug("join token refused", "err", err, "remote", r.RemoteAddr)
		httpError(w, http.StatusUnauthorized, code, msg)
		return
	}
	if c.host.Draining() {
		httpError(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "server is stopping")
		return
	}
	if !c.host.Owns(g.Room) {
		httpError(w, http.StatusConflict, wire.CodeWrongServer, "this server does not host room "+g.Room+"; ask the API's join endpoint again")
		return
	}
	if c.relays == nil && c.host.Full() { // in a cluster a full server still has its relays
		c.metrics.noCapacity.Inc()
		httpError(w, http.StatusServiceUnavailable, wire.CodeNoCapacity, "the server has no capacity for another peer right now; try again later")
		return
	}
	var opts *websocket.AcceptOptions
	if c.bus != nil {
		// In a cluster the page comes from the API, another origin; a signed
		// join token for this room, not the origin, is what lets a client in.
		opts = &websocket.AcceptOptions{OriginPatterns: []string{"*"}}
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	s := c.newSession(ws, g)
	c.trackSession(s)
	s.run()
}

func (c *Control) serveDevToken(w http.ResponseWriter, r *http.Request) {
	if !c.cfg.Dev {
		httpError(w, http.StatusNotFound, "not_found", "dev tokens are only served with --dev")
		return
	}
	q := r.URL.Query()
	room, identity := q.Get("room"), q.Get("identity")
	if room == "" || identity == "" || len(room) > auth.MaxNameBytes || len(identity) > auth.MaxNameBytes {
		httpError(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("room and identity are required (at most %d bytes)", auth.MaxNameBytes))
		return
	}
	tok, err := auth.Sign(c.secret, auth.Grant{Room: room, Identity: identity, Publish: q.Get("publish") != "0", Expires: time.Now().Add(c.cfg.Auth.DevTokenTTL)})
	if err != nil {
		httpError(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}
