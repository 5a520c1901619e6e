package ipc

import "fmt"

// ConnState is a transport's connection state as the worker reports it
// (transport.state). It is the IPC's own type: the worker maps pion's
// PeerConnectionState to it in one place, so nothing past the worker reads
// pion's names, and a state the worker never sends does not decode.
type ConnState uint8

// The states of a transport's connection (those of a W3C
// RTCPeerConnection, which pion follows).
const (
	ConnUnknown ConnState = iota
	ConnNew
	ConnConnecting
	ConnConnected
	ConnDisconnected
	ConnFailed
	ConnClosed
)

var connStateNames = [...]string{
	ConnUnknown:      "unknown",
	ConnNew:          "new",
	ConnConnecting:   "connecting",
	ConnConnected:    "connected",
	ConnDisconnected: "disconnected",
	ConnFailed:       "failed",
	ConnClosed:       "closed",
}

func (s ConnState) String() string {
	if int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return connStateNames[ConnUnknown]
}

// MarshalText implements encoding.TextMarshaler: the state's name.
func (s ConnState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; a name that is not a
// state is an error.
func (s *ConnState) UnmarshalText(b []byte) error {
	for i, name := range connStateNames {
		if ConnState(i) != ConnUnknown && name == string(b) {
			*s = ConnState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown transport state %q", b)
}
