package wire

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStampSeqNumbersAMarshalledMessage(t *testing.T) {
	b, err := json.Marshal(PeerLeft{Envelope: Envelope{Type: TypePeerLeft}, PeerID: "PA_x"})
	require.NoError(t, err)
	stamped := StampSeq(b, 42)
	msg, err := ParseServer(stamped)
	require.NoError(t, err)
	require.Equal(t, uint64(42), msg.(*PeerLeft).Seq)
	require.Equal(t, "PA_x", msg.(*PeerLeft).PeerID)

	require.JSONEq(t, `{"seq":7}`, string(StampSeq([]byte(`{}`), 7)))
}

func TestParseResumeAndRestartICE(t *testing.T) {
	msg, err := ParseClient([]byte(`{"type":"resume","token":"rt_x","last_seq":3}`))
	require.NoError(t, err)
	require.Equal(t, &Resume{Envelope: Envelope{Type: TypeResume}, Token: "rt_x", LastSeq: 3}, msg)

	msg, err = ParseClient([]byte(`{"type":"restart_ice","seq":5}`))
	require.NoError(t, err)
	require.Equal(t, &Envelope{Type: TypeRestartICE, Seq: 5}, msg)

	msg, err = ParseServer([]byte(`{"type":"resumed","peer_id":"PA_x","last_seq":2}`))
	require.NoError(t, err)
	require.Equal(t, &Resumed{Envelope: Envelope{Type: TypeResumed}, PeerID: "PA_x", LastSeq: 2}, msg)

	msg, err = ParseServer([]byte(`{"type":"joined","room":"r","peer_id":"PA_x","peers":[],"resume_token":"rt_y"}`))
	require.NoError(t, err)
	require.Equal(t, "rt_y", msg.(*Joined).ResumeToken)
}
