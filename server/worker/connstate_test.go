package worker

import (
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
)

func TestConnStateMapsEveryPionState(t *testing.T) {
	for _, s := range []webrtc.PeerConnectionState{
		webrtc.PeerConnectionStateNew, webrtc.PeerConnectionStateConnecting, webrtc.PeerConnectionStateConnected,
		webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed,
	} {
		got := connState(s)
		require.NotEqual(t, ipc.ConnUnknown, got, s.String())
		require.Equal(t, s.String(), got.String(), "the IPC names the state as pion does")
	}
	require.Equal(t, ipc.ConnUnknown, connState(webrtc.PeerConnectionStateUnknown))
}
