package worker

import (
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// connState is pion's connection state as the IPC reports it: the one place
// pion's states become the IPC's.
func connState(s webrtc.PeerConnectionState) ipc.ConnState {
	switch s {
	case webrtc.PeerConnectionStateNew:
		return ipc.ConnNew
	case webrtc.PeerConnectionStateConnecting:
		return ipc.ConnConnecting
	case webrtc.PeerConnectionStateConnected:
		return ipc.ConnConnected
	case webrtc.PeerConnectionStateDisconnected:
		return ipc.ConnDisconnected
	case webrtc.PeerConnectionStateFailed:
		return ipc.ConnFailed
	case webrtc.PeerConnectionStateClosed:
		return ipc.ConnClosed
	}
	return ipc.ConnUnknown
}
