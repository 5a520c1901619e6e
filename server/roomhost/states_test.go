package roomhost

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatesNameThemselves(t *testing.T) {
	require.Equal(t, []string{"open", "closing", "closed", "unknown"},
		[]string{roomOpen.String(), roomClosing.String(), roomClosed.String(), roomState(9).String()})
	require.Equal(t, []string{"live", "hub", "removed", "dead", "unknown"},
		[]string{routerLive.String(), routerHub.String(), routerRemoved.String(), routerDead.String(), routerState(9).String()})
	require.Equal(t, []string{"joining", "announced", "ready", "connected", "gone", "unknown"},
		[]string{peerJoining.String(), peerAnnounced.String(), peerReady.String(), peerConnected.String(), peerGone.String(), peerPhase(9).String()})
}

func TestPeerPhases(t *testing.T) {
	for _, tt := range []struct {
		phase                   peerPhase
		announced, hasTransport bool
	}{
		{peerJoining, false, false},
		{peerAnnounced, true, false},
		{peerReady, true, true},
		{peerConnected, true, true},
		{peerGone, false, false},
	} {
		require.Equal(t, tt.announced, tt.phase.announced(), tt.phase.String())
		require.Equal(t, tt.hasTransport, tt.phase.hasTransport(), tt.phase.String())
	}
	for _, s := range []routerState{routerLive, routerHub} {
		require.False(t, s.out(), s.String())
	}
	for _, s := range []routerState{routerRemoved, routerDead} {
		require.True(t, s.out(), s.String())
	}
}
