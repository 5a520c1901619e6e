package bus

import (
	"encoding/json"
	"errors"

	"github.com/voicectl/voicectl/server/ipc"
)

// WorkerCall is one worker request a room's owner sends the server that
// runs the worker (its relay routers there). The request is typed: the bus
// decodes it once, into its method's params type, and a request that does
// not decode is refused before any handler sees it, with the code a worker
// gives it (unknown_method, bad_request).
type WorkerCall struct {
	Worker  int
	Request ipc.Request
}

// workerCallJSON is WorkerCall on the wire.
type workerCallJSON struct {
	Worker int             `json:"worker"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (c WorkerCall) MarshalJSON() ([]byte, error) {
	params, err := json.Marshal(c.Request.Params())
	if err != nil {
		return nil, err
	}
	return json.Marshal(workerCallJSON{Worker: c.Worker, Method: c.Request.Method(), Params: params})
}

// UnmarshalJSON implements json.Unmarshaler: the params are decoded into
// the method's request type, or the call is an error.
func (c *WorkerCall) UnmarshalJSON(b []byte) error {
	var w workerCallJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Method == "" {
		return Errorf(CodeBadRequest, "worker call without a method")
	}
	req, err := ipc.DecodeRequest(w.Method, w.Params)
	if err != nil {
		// Keep the worker's code (unknown_method, bad_request) for the
		// reply, as the relay answered before calls were typed.
		var re *ipc.RemoteError
		if errors.As(err, &re) {
			return &Error{Code: re.Code, Message: re.Message}
		}
		return err
	}
	*c = WorkerCall{Worker: w.Worker, Request: req}
	return nil
}
