// Package httpx holds the JSON answers and bearer-token reading the server's
// HTTP handlers (signalling, admin, health) share.
package httpx

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/voicectl/voicectl/server/wire"
)

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers status with a stable code and a message (wire.HTTPError).
func Error(w http.ResponseWriter, status int, code wire.Code, msg string) {
	WriteJSON(w, status, wire.HTTPError{Code: code, Message: msg})
}

// BearerHeader is the token of an "Authorization: Bearer" header, "" if
// there is none.
func BearerHeader(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
