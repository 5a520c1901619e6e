package adminapi

import (
	"crypto/subtle"
	"net/http"

	"github.com/voicectl/voicectl/server/internal/httpx"
	"github.com/voicectl/voicectl/server/wire"
)

// requireKey lets a request through with the admin key only; wrong keys are
// counted and, past a few a second from one address, refused unread.
func (a *API) requireKey(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.p.Key == "" {
			httpx.Error(w, http.StatusUnauthorized, wire.CodeUnauthorized, "the admin API is disabled: set auth.admin_key")
			return
		}
		if a.keyAttempts.Blocked(r.RemoteAddr) {
			w.Header().Set("Retry-After", "1")
			httpx.Error(w, http.StatusTooManyRequests, wire.CodeRateLimited, "too many wrong admin keys from this address; wait and try again")
			return
		}
		got := httpx.BearerHeader(r)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(a.p.Key)) != 1 {
			a.authFailures.Inc()
			if a.keyAttempts.Failed(r.RemoteAddr) {
				a.log.Warn("wrong admin key (said once a minute per address)", "remote", r.RemoteAddr)
			}
			httpx.Error(w, http.StatusUnauthorized, wire.CodeUnauthorized, "missing or wrong admin key")
			return
		}
		next(w, r)
	})
}
