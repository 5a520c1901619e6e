package wire

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseClientTyped(t *testing.T) {
	msg, err := ParseClient([]byte(`{"type":"join","publish":false,"id":"1"}`))
	require.NoError(t, err)
	j, ok := msg.(*Join)
	require.True(t, ok)
	require.NotNil(t, j.Publish)
	require.False(t, *j.Publish)
	require.Equal(t, "1", j.ID)

	msg, err = ParseClient([]byte(`{"type":"answer","sdp":"v=0"}`))
	require.NoError(t, err)
	require.Equal(t, "v=0", msg.(*SessionDescription).SDP)

	msg, err = ParseClient([]byte(`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5 typ host","sdpMid":"0"}}`))
	require.NoError(t, err)
	require.Equal(t, "0", *msg.(*Candidate).Candidate.SDPMid)

	msg, err = ParseClient([]byte(`{"type":"mute","muted":true}`))
	require.NoError(t, err)
	require.True(t, msg.(*Mute).Muted)
}

func TestParseClientErrors(t *testing.T) {
	cases := map[string]string{
		"not json":       `{"type":`,
		"array":          `[1,2]`,
		"no type":        `{"sdp":"x"}`,
		"unknown field":  `{"type":"mute","muted":true,"extra":1}`,
		"wrong type":     `{"type":"mute","muted":"yes"}`,
		"empty sdp":      `{"type":"answer"}`,
		"empty cand":     `{"type":"candidate","candidate":{}}`,
		"mute, no muted": `{"type":"mute"}`,
		"mute, null":     `{"type":"mute","muted":null}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseClient([]byte(in))
			require.ErrorIs(t, err, ErrMalformed)
			require.NotContains(t, err.Error(), "json:", "the protocol's words, not the decoder's")
			require.NotContains(t, err.Error(), "Go ")
		})
	}
	_, err := ParseClient([]byte(`{"type":"mute","muted":"yes"}`))
	require.ErrorContains(t, err, `field "muted" must be a bool, not a string`)
	_, err = ParseClient([]byte(`{"type":"mute","muted":true,"extra":1}`))
	require.ErrorContains(t, err, `unknown field "extra"`)
	_, err = ParseClient([]byte(`{"type":"dance"}`))
	var ute *UnknownTypeError
	require.True(t, errors.As(err, &ute))
	require.Equal(t, "dance", ute.Type)
}

func TestParseServerRoundTrip(t *testing.T) {
	msg, err := ParseServer([]byte(`{"type":"error","code":"bad_sdp","message":"x","fatal":true}`))
	require.NoError(t, err)
	e := msg.(*Error)
	require.Equal(t, CodeBadSDP, e.Code)
	require.True(t, e.Fatal)
	_, err = ParseServer([]byte(`{"type":"zzz"}`))
	require.Error(t, err)
}
