package service

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

func TestRoomPeersComeFromTheRoomsServer(t *testing.T) {
	s, b := newTestService(t, false)
	h := s.Handler()
	ctx := context.Background()
	d := newFakeServer(t, b, "d")
	for room, server := range map[string]cluster.ServerID{"on-d": "d", "on-ghost": "ghost"} {
		_, _, err := s.p.Directory.Create(ctx, room, server)
		require.NoError(t, err)
	}
	d.beat(t, cluster.Heartbeat{})

	rec, _ := do(t, h, "GET", "/v1/rooms/on-d/peers", key, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got wire.AdminRoomDetail
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, "on-d", got.ID)
	require.Len(t, got.PeerList, 1)
	require.Equal(t, "listener-d", got.PeerList[0].Identity, "answered by the room's own server")
	require.Equal(t, wire.QualityPoor, got.PeerList[0].Quality)
	require.InDelta(t, 0.2, got.PeerList[0].Loss, 0)

	rec, he := do(t, h, "GET", "/v1/rooms/on-ghost/peers", key, "")
	require.Equal(t, http.StatusConflict, rec.Code, "a server the registry does not know live")
	require.Equal(t, CodeServerDead, he.Code)
	rec, he = do(t, h, "GET", "/v1/rooms/nowhere/peers", key, "")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, CodeRoomUnknown, he.Code)
	rec, _ = do(t, h, "GET", "/v1/rooms/on-d/peers", "", "")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}
