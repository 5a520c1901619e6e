package service

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/voicectl/voicectl/api/directory"
	"github.com/voicectl/voicectl/server/wire"
)

// Stable codes of API errors beyond the signalling ones (docs/api.md).
const (
	CodeBadRoomName    wire.Code = "bad_room_name"
	CodeRoomUnknown    wire.Code = "room_not_found"
	CodeServerUnknown  wire.Code = "server_not_found"
	CodeServerDead     wire.Code = "server_dead"
	CodeServerDraining wire.Code = "server_draining"
	CodeAlreadyThere   wire.Code = "already_there"
	CodeMoveConflict   wire.Code = "move_conflict"
)

// errorCodes is the one mapping from the orchestration's errors to what the
// API answers; the first kind the error is wins.
var errorCodes = []struct {
	kind   error
	status int
	code   wire.Code
}{
	{ErrBusUnavailable, http.StatusServiceUnavailable, wire.CodeBusUnavailable},
	{ErrNoCapacity, http.StatusServiceUnavailable, wire.CodeNoCapacity},
	{ErrNoSpare, http.StatusServiceUnavailable, wire.CodeNoCapacity},
	{directory.ErrNotFound, http.StatusNotFound, CodeRoomUnknown},
	{ErrServerUnknown, http.StatusNotFound, CodeServerUnknown},
	{ErrServerDead, http.StatusConflict, CodeServerDead},
	{ErrServerDraining, http.StatusConflict, CodeServerDraining},
	{ErrAlreadyThere, http.StatusConflict, CodeAlreadyThere},
	{ErrMoveConflict, http.StatusConflict, CodeMoveConflict},
	{ErrNoAnswer, http.StatusBadGateway, wire.CodeInternal},
}

// failed answers err: its status and code, in its own words; an error of
// no known kind is internal, and logged.
func (s *Service) failed(w http.ResponseWriter, err error) {
	for _, c := range errorCodes {
		if !errors.Is(err, c.kind) {
			continue
		}
		msg := err.Error()
		switch c.kind {
		case ErrNoCapacity:
			s.m.creates.WithLabelValues("no_capacity").Inc()
			msg += "; try again later"
		case directory.ErrNotFound:
			msg = "no such room; create it with POST /v1/rooms"
		case ErrBusUnavailable:
			w.Header().Set("Retry-After", strconv.Itoa(int(BusRetryAfter/time.Second)))
		}
		httpError(w, c.status, c.code, msg)
		return
	}
	s.log.Error("api request failed", "err", err)
	httpError(w, http.StatusInternalServerError, wire.CodeInternal, err.Error())
}
