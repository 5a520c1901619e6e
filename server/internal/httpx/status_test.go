package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/wire"
)

func TestFailAnswersTheErrorsCode(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   wire.Code
	}{
		{wire.NewError(wire.CodeNotFound, "room x not found"), http.StatusNotFound, wire.CodeNotFound},
		{fmt.Errorf("mute: %w", wire.NewError(wire.CodePublishNotAllowed, "listener")), http.StatusConflict, wire.CodePublishNotAllowed},
		{wire.NewError(wire.CodeUnavailable, "stopping"), http.StatusServiceUnavailable, wire.CodeUnavailable},
		{wire.NewError(wire.CodeBadRequest, "no"), http.StatusBadRequest, wire.CodeBadRequest},
		{errors.New("boom"), http.StatusInternalServerError, wire.CodeInternal},
	} {
		w := httptest.NewRecorder()
		Fail(w, c.err)
		require.Equal(t, c.status, w.Code, "%v", c.err)
		var he wire.HTTPError
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &he))
		require.Equal(t, wire.HTTPError{Code: c.code, Message: c.err.Error()}, he)
		require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	}
}

func TestBearerHeader(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	require.Empty(t, BearerHeader(r))
	r.Header.Set("Authorization", "bearer  tok ")
	require.Equal(t, "tok", BearerHeader(r))
	r.Header.Set("Authorization", "Basic tok")
	require.Empty(t, BearerHeader(r))
}
