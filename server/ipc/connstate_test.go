package ipc

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConnStateCrossesByName(t *testing.T) {
	for _, s := range []ConnState{ConnNew, ConnConnecting, ConnConnected, ConnDisconnected, ConnFailed, ConnClosed} {
		raw, err := json.Marshal(TransportState{TransportID: "T", State: s})
		require.NoError(t, err)
		require.Contains(t, string(raw), `"state":"`+s.String()+`"`)
		ev, err := DecodeEvent(EventTransportState, raw)
		require.NoError(t, err)
		require.Equal(t, StateEvent{TransportID: "T", State: s}, ev)
	}
	require.Equal(t, "connected", ConnConnected.String())
	require.Equal(t, "unknown", ConnState(99).String())
	var s ConnState
	require.Error(t, s.UnmarshalText([]byte("unknown")), "unknown is no state a worker sends")
	require.Error(t, s.UnmarshalText([]byte("Connected")))
}
