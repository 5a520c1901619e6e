package bus

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/voicectl/voicectl/server/wire"
)

// Error is a handler's refusal with a stable code, carried in a reply. It
// is a wire.Coder: wire.CodeOf reads its code wherever it is answered.
type Error struct {
	Code    wire.Code `json:"code"`
	Message string    `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// ErrorCode implements wire.Coder.
func (e *Error) ErrorCode() wire.Code { return e.Code }

// The codes bus replies carry most, the wire's own: one string each,
// defined in wire.
const (
	CodeBadRequest  = wire.CodeBadRequest
	CodeUnknownType = wire.CodeUnknownType
	CodeWrongServer = wire.CodeWrongServer
	CodeInternal    = wire.CodeInternal
	CodeNoCapacity  = wire.CodeNoCapacity
	CodeNotFound    = wire.CodeNotFound
)

// Sentinel errors.
var (
	// ErrClosed: the bus was closed.
	ErrClosed = errors.New("bus: closed")
	// ErrNoRoute: nothing consumes the destination (an unknown server's queue).
	ErrNoRoute = errors.New("bus: no queue takes this message")
)

// Errorf makes a coded error for a reply.
func Errorf(code wire.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError is err as a reply error: an *Error as it is, anything else with
// the code it carries (wire.CodeOf: internal when it carries none).
func AsError(err error) *Error {
	var be *Error
	if errors.As(err, &be) {
		return be
	}
	return &Error{Code: wire.CodeOf(err), Message: err.Error()}
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
