package bus

import (
	"encoding/json"

	"github.com/voicectl/voicectl/server/ipc"
)

// WorkerCall is one worker request a room's owner sends the server that
// runs the worker (its relay routers there). The request is typed: the bus
// decodes it once, into its method's params type, and a request that does
// not decode is refused CodeBadRequest before any handler sees it.
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
	req, err := ipc.DecodeRequest(w.Method, w.Params)
	if err != nil {
		return err
	}
	*c = WorkerCall{Worker: w.Worker, Request: req}
	return nil
}
