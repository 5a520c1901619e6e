package bus

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Error is a handler's refusal with a stable code, carried in a reply.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Stable codes of bus replies.
const (
	CodeBadRequest  = "bad_request"
	CodeUnknownType = "unknown_type"
	CodeWrongServer = "wrong_server"
	CodeInternal    = "internal"
	CodeNoCapacity  = "no_capacity"
	CodeNotFound    = "not_found"
)

// Sentinel errors.
var (
	// ErrClosed: the bus was closed.
	ErrClosed = errors.New("bus: closed")
	// ErrNoRoute: nothing consumes the destination (an unknown server's queue).
	ErrNoRoute = errors.New("bus: no queue takes this message")
)

// Errorf makes a coded error for a reply.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError is err as a reply error: a coded *Error as it is, anything else internal.
func AsError(err error) *Error {
	var be *Error
	if errors.As(err, &be) {
		return be
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// Reply is the envelope answering req with a handler's result.
func Reply(req Envelope, rep any, err error) Envelope {
	out := Envelope{Type: req.Type + ".reply", RequestID: req.RequestID}
	if err != nil {
		out.Error = AsError(err)
	} else if rep != nil {
		body, merr := json.Marshal(rep)
		if merr != nil {
			out.Error = AsError(merr)
		} else {
			out.Body = body
		}
	}
	return out
}
