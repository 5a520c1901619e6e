package ipc

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

func TestRemoteErrorsCrossWithTheirCodesStrings(t *testing.T) {
	// Workers and servers of other versions read these: the strings never
	// change.
	for code, want := range map[wire.Code]string{CodeNotFound: "not_found", CodeBadSDP: "bad_sdp", CodeBadCand: "bad_candidate",
		CodeExists: "exists", CodeCancelled: "cancelled", CodeBadRequest: "bad_request", CodeUnknownMethod: "unknown_method",
		CodeInternal: "internal", CodeNotReady: "not_ready", CodeNotConnected: "not_connected"} {
		b, err := json.Marshal(&RemoteError{Code: code, Message: "m"})
		require.NoError(t, err)
		require.JSONEq(t, `{"code":"`+want+`","message":"m"}`, string(b))
		var back RemoteError
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, code, back.Code)
	}
}

func TestAWorkersRefusalIsTheClientsOnlyForWhatTheClientSent(t *testing.T) {
	require.Equal(t, wire.CodeBadSDP, wire.CodeOf(fmt.Errorf("answer: %w", &RemoteError{Code: CodeBadSDP})))
	require.Equal(t, wire.CodeBadCandidate, wire.CodeOf(&RemoteError{Code: CodeBadCand}))
	require.Equal(t, wire.CodeInternal, wire.CodeOf(&RemoteError{Code: CodeNotFound}), "the server's own failure")
	require.Equal(t, wire.CodeInternal, wire.CodeOf(&RemoteError{Code: CodeBadRequest}))
}
