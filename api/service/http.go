package service

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/web"
	"github.com/voicectl/voicectl/server/wire"
)

func timeSince(t time.Time) float64 { return time.Since(t).Seconds() }

// maxRoomName bounds a room name, in bytes: what a join token may carry.
const maxRoomName = auth.MaxNameBytes

// checkIdentity refuses an empty identity or one a join token may not carry.
func checkIdentity(identity string) error {
	if identity == "" || len(identity) > auth.MaxNameBytes {
		return fmt.Errorf("identity is required (at most %d bytes)", auth.MaxNameBytes)
	}
	return nil
}

// Handler serves the API.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc, key bool) {
		var next http.Handler = h
		if key {
			next = s.requireKey(h)
		}
		mux.Handle(pattern, s.timed(pattern, next))
	}
	route("POST /v1/rooms", s.createRoom, true)
	route("GET /v1/rooms", s.listRooms, true)
	route("GET /v1/rooms/{room}", s.getRoom, true)
	route("GET /v1/rooms/{room}/peers", s.roomPeers, true)
	route("DELETE /v1/rooms/{room}", s.deleteRoom, true)
	route("POST /v1/rooms/{room}/join", s.join, true)
	route("POST /v1/rooms/{room}/move", s.moveRoom, true)
	route("GET /v1/servers", s.servers, true)
	route("POST /v1/servers/{id}/drain", s.drainServer, true)
	route("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"dev": s.p.Dev, "cluster": true, "version": s.p.Version})
	}, false)
	if s.p.Dev {
		route("GET /v1/dev/join", s.devJoin, false)
	}
	mux.Handle("GET /", web.Handler())
	route("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) }, false)
	route("GET /readyz", s.ready, false)
	if s.p.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.p.Gatherer, promhttp.HandlerOpts{}))
	}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		mux.Handle(m+" /v1/", s.requireKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpError(w, http.StatusNotFound, wire.CodeNotFound, "no API endpoint "+r.Method+" "+r.URL.Path)
		})))
	}
	return mux
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func (s *Service) timed(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		next.ServeHTTP(sw, r)
		s.m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

func (s *Service) requireKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		got := ""
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			got = strings.TrimSpace(h[7:])
		}
		if s.keyAttempts.Blocked(r.RemoteAddr) {
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusTooManyRequests, wire.CodeRateLimited, "too many wrong API keys from this address; wait and try again")
			return
		}
		if s.p.APIKey == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.p.APIKey)) != 1 {
			s.m.authFailures.Inc()
			if s.keyAttempts.Failed(r.RemoteAddr) {
				s.log.Warn("wrong API key (said once a minute per address)", "remote", r.RemoteAddr)
			}
			httpError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "missing or wrong API key (Authorization: Bearer auth.api_key)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, code wire.Code, msg string) {
	writeJSON(w, status, wire.HTTPError{Code: code, Message: msg})
}

// checkRoomName refuses empty, long or control-character names.
func checkRoomName(name string) error {
	switch {
	case name == "":
		return errors.New("room name is required")
	case len(name) > maxRoomName:
		return fmt.Errorf("room name is %d bytes; at most %d", len(name), maxRoomName)
	case !utf8.ValidString(name):
		return errors.New("room name is not UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errors.New("room name contains control characters")
		}
	}
	return nil
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, wire.CodeBadRequest, "body: "+err.Error())
		return false
	}
	return true
}
