package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

func TestReplyErrorsCarryTheOneMappingsCode(t *testing.T) {
	full := Errorf(CodeNoCapacity, "no room")
	require.Same(t, full, AsError(fmt.Errorf("create: %w", full)), "a refusal goes as it is")
	require.Equal(t, wire.CodeNoCapacity, wire.CodeOf(fmt.Errorf("call: %w", full)), "the asker reads it with wire.CodeOf")

	gone := wire.NewError(wire.CodeNotFound, "peer p not found")
	require.Equal(t, &Error{Code: wire.CodeNotFound, Message: "kick: peer p not found"}, AsError(fmt.Errorf("kick: %w", gone)),
		"an error that carries a code goes with it")
	require.Equal(t, &Error{Code: wire.CodeInternal, Message: "boom"}, AsError(errors.New("boom")), "anything else is internal")
}

func TestReplyCodesKeepTheirStrings(t *testing.T) {
	// Servers of other versions read these: the strings never change.
	for code, want := range map[wire.Code]string{CodeBadRequest: "bad_request", CodeUnknownType: "unknown_type",
		CodeWrongServer: "wrong_server", CodeInternal: "internal", CodeNoCapacity: "no_capacity", CodeNotFound: "not_found"} {
		b, err := json.Marshal(Reply(Envelope{Type: "t", RequestID: "1"}, nil, Errorf(code, "m")))
		require.NoError(t, err)
		var got struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal(b, &got))
		require.Equal(t, want, got.Error.Code)
		require.Equal(t, "m", got.Error.Message)
	}
}
