package service

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/auth"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/registry"
)

// TestHTTPProbe: the probe carries a lease token the server can check, and
// counts as alive only an answer from the server it asked.
func TestHTTPProbe(t *testing.T) {
	secret := []byte("0123456789abcdef0123")
	answerAs := cluster.ServerID("a")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, cluster.LeasePath, r.URL.Path)
		g, err := auth.Verify(secret, r.Header.Get("Authorization")[len("Bearer "):])
		if err != nil || g.Room != cluster.LeaseRoom {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(cluster.LeaseAnswer{Server: answerAs, Until: time.Now().Add(time.Second)})
	}))
	t.Cleanup(srv.Close)
	probe := HTTPProbe(secret, srv.Client())
	ctx := context.Background()
	a := registry.Server{Heartbeat: cluster.Heartbeat{Server: "a", SignalURL: srv.URL + "/"}}
	require.NoError(t, probe(ctx, a))
	answerAs = "b"
	require.ErrorContains(t, probe(ctx, a), "answers as server b", "its address serves another server now")
	require.Error(t, HTTPProbe([]byte("another-secret-0123456789"), srv.Client())(ctx, a), "refused")
	require.Error(t, probe(ctx, registry.Server{Heartbeat: cluster.Heartbeat{Server: "c"}}), "no URL")
}
