package control

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/internal/httpx"
	"github.com/voicectl/voicectl/server/web"
	"github.com/voicectl/voicectl/server/wire"
)

// Handler serves signalling, health, the dev token endpoint and the browser page.
func (c *Control) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/rtc", c.signal.ServeRTC)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", c.serveReady)
	mux.HandleFunc("GET "+cluster.LeasePath, c.serveLease)
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"dev": c.cfg.Dev, "version": c.version})
	})
	mux.HandleFunc("GET /v1/dev/token", c.serveDevToken)
	if c.gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(c.gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelWarn)}))
	}
	c.admin.Register(mux)
	mux.Handle("GET /", web.Handler())
	return mux
}

// serveReady is /readyz: 503 without a ready worker or while draining. In
// a cluster the body says whether the server has the message broker, but
// a broker outage fails no probe: its rooms keep their media and still
// admit joins, and a probe failing on every server at once would take the
// whole cluster out of its load balancer (docs/deploy.md).
func (c *Control) serveReady(w http.ResponseWriter, _ *http.Request) {
	ready := c.sup.Ready()
	draining := c.host.Draining()
	status := http.StatusOK
	if ready == 0 || draining {
		status = http.StatusServiceUnavailable
	}
	body := map[string]any{"workers": c.sup.Len(), "workers_ready": ready, "draining": draining}
	if c.bus != nil {
		body["bus"] = bus.StateOf(c.bus)
	}
	httpx.WriteJSON(w, status, body)
}

func (c *Control) serveDevToken(w http.ResponseWriter, r *http.Request) {
	if !c.cfg.Dev {
		httpx.Error(w, http.StatusNotFound, wire.CodeNotFound, "dev tokens are only served with --dev")
		return
	}
	q := r.URL.Query()
	room, identity := q.Get("room"), q.Get("identity")
	if room == "" || identity == "" || len(room) > auth.MaxNameBytes || len(identity) > auth.MaxNameBytes {
		httpx.Error(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("room and identity are required (at most %d bytes)", auth.MaxNameBytes))
		return
	}
	tok, err := auth.Sign(c.secret, auth.Grant{Room: room, Identity: identity, Publish: q.Get("publish") != "0", Expires: time.Now().Add(c.cfg.Auth.DevTokenTTL)})
	if err != nil {
		httpx.Error(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"token": tok})
}
