package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/wire"
)

func TestFailedMapsEveryErrorKindOnce(t *testing.T) {
	s := New(Params{})
	tests := []struct {
		err    error
		status int
		code   wire.Code
		msg    string
	}{
		{fmt.Errorf("%w (within 1s)", ErrNoCapacity), http.StatusServiceUnavailable, wire.CodeNoCapacity, "no server has capacity for a new room (within 1s); try again later"},
		{refuse(ErrNoSpare, "server b has 5 load units spare"), http.StatusServiceUnavailable, wire.CodeNoCapacity, "server b has 5 load units spare"},
		{fmt.Errorf("get: %w", directory.ErrNotFound), http.StatusNotFound, CodeRoomUnknown, "no such room; create it with POST /v1/rooms"},
		{refuse(ErrServerUnknown, "no server x in the registry"), http.StatusNotFound, CodeServerUnknown, "no server x in the registry"},
		{refuse(ErrServerDead, "server x is dead"), http.StatusConflict, CodeServerDead, "server x is dead"},
		{refuse(ErrServerDraining, "server x is draining"), http.StatusConflict, CodeServerDraining, "server x is draining"},
		{refuse(ErrAlreadyThere, "room r is on x already"), http.StatusConflict, CodeAlreadyThere, "room r is on x already"},
		{refuse(ErrMoveConflict, "room r moved meanwhile; ask again"), http.StatusConflict, CodeMoveConflict, "room r moved meanwhile; ask again"},
		{refuse(ErrNoAnswer, "server x did not answer the drain: timeout"), http.StatusBadGateway, wire.CodeInternal, "server x did not answer the drain: timeout"},
		{fmt.Errorf("placing: %w", refuse(ErrBusUnavailable, "the API is off the message broker; try again later")), http.StatusServiceUnavailable,
			wire.CodeBusUnavailable, "placing: the API is off the message broker; try again later"},
		{errors.New("disk on fire"), http.StatusInternalServerError, wire.CodeInternal, "disk on fire"},
	}
	for _, tt := range tests {
		t.Run(string(tt.code)+" "+tt.msg, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.failed(rec, tt.err)
			require.Equal(t, tt.status, rec.Code)
			var he wire.HTTPError
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &he))
			require.Equal(t, tt.code, he.Code)
			require.Equal(t, tt.msg, he.Message)
			if tt.code == wire.CodeBusUnavailable {
				require.Equal(t, "5", rec.Header().Get("Retry-After"), "told when to ask again")
			} else {
				require.Empty(t, rec.Header().Get("Retry-After"))
			}
		})
	}
	require.ErrorIs(t, refuse(ErrServerDead, "x"), ErrServerDead)
	require.NotErrorIs(t, refuse(ErrServerDead, "x"), ErrServerDraining)
}
