package httpx

import (
	"net/http"

	"github.com/voicectl/voicectl/server/wire"
)

// StatusOf is the HTTP status an error with code is answered with.
func StatusOf(code wire.Code) int {
	switch code {
	case wire.CodeNotFound:
		return http.StatusNotFound
	case wire.CodeBadRequest, wire.CodeUnknownType, wire.CodeMessageTooLarge, wire.CodeBadSDP, wire.CodeBadCandidate,
		wire.CodeSDPTooLarge, wire.CodeTooManyCandidates:
		return http.StatusBadRequest
	case wire.CodeUnauthorized, wire.CodeTokenExpired:
		return http.StatusUnauthorized
	case wire.CodePublishNotAllowed, wire.CodeNotJoined, wire.CodeAlreadyJoined, wire.CodeWrongServer:
		return http.StatusConflict
	case wire.CodeRateLimited, wire.CodeTooManyConnections:
		return http.StatusTooManyRequests
	case wire.CodeNoCapacity, wire.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Fail answers err with its code (wire.CodeOf) and the status for it.
func Fail(w http.ResponseWriter, err error) {
	code := wire.CodeOf(err)
	Error(w, StatusOf(code), code, err.Error())
}
