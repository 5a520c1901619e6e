package ipc

import (
	"context"
	"encoding/json"
)

// Empty is the request or reply of a method that carries none.
type Empty struct{}

// Method ties a method name to its request and reply types, so a caller and a
// handler of the same Method cannot disagree about them.
type Method[Req, Resp any] struct{ Name string }

// Caller sends one request and decodes its reply; *Conn is one.
type Caller interface {
	Call(ctx context.Context, method string, params, out any) error
}

// Call sends req through c and returns the decoded reply.
func (m Method[Req, Resp]) Call(ctx context.Context, c Caller, req Req) (Resp, error) {
	var out Resp
	err := c.Call(ctx, m.Name, req, &out)
	return out, err
}

// The methods a worker serves.
var (
	CallInit            = Method[InitParams, Ready]{MethodInit}
	CallLoad            = Method[Empty, Load]{MethodLoad}
	CallRouterCreate    = Method[RouterCreate, Empty]{MethodRouterCreate}
	CallRouterClose     = Method[RouterRef, Empty]{MethodRouterClose}
	CallTransportCreate = Method[TransportCreate, Empty]{MethodTransportCreate}
	CallTransportAnswer = Method[SDP, Empty]{MethodTransportAnswer}
	CallTransportCand   = Method[Candidate, Empty]{MethodTransportCand}
	CallTransportClose  = Method[TransportRef, Empty]{MethodTransportClose}
	CallTransportICE    = Method[TransportRef, Empty]{MethodTransportICE}
	CallConsumerCreate  = Method[ConsumerRef, Empty]{MethodConsumerCreate}
	CallConsumerClose   = Method[ConsumerRef, Empty]{MethodConsumerClose}
	CallProducerPause   = Method[ProducerPause, Empty]{MethodProducerPause}
	CallPipeCreate      = Method[PipeCreate, PipeCreated]{MethodPipeCreate}
	CallPipeConnect     = Method[PipeConnect, Empty]{MethodPipeConnect}
	CallPipeConsume     = Method[PipeFlow, Empty]{MethodPipeConsume}
	CallPipeUnconsume   = Method[PipeFlow, Empty]{MethodPipeUnconsume}
	CallPipeProduce     = Method[PipeFlow, Empty]{MethodPipeProduce}
	CallPipeUnproduce   = Method[PipeFlow, Empty]{MethodPipeUnproduce}
	CallPipeClose       = Method[PipeRef, Empty]{MethodPipeClose}
)

// Mux serves typed methods: a Handler's HandleRequest that decodes each
// request into its method's type.
type Mux struct {
	handlers map[string]func(context.Context, json.RawMessage) (any, error)
}

// NewMux returns an empty Mux.
func NewMux() *Mux {
	return &Mux{handlers: map[string]func(context.Context, json.RawMessage) (any, error){}}
}

// Handle registers f for m. A request whose caller gave up before it was
// served is answered CodeCancelled without calling f.
func Handle[Req, Resp any](mux *Mux, m Method[Req, Resp], f func(context.Context, Req) (Resp, error)) {
	mux.handlers[m.Name] = func(ctx context.Context, raw json.RawMessage) (any, error) {
		var req Req
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, &RemoteError{Code: CodeBadRequest, Message: m.Name + ": " + err.Error()}
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, Cancelled(err)
		}
		return f(ctx, req)
	}
}

// Serve runs the handler registered for method.
func (mux *Mux) Serve(ctx context.Context, method string, raw json.RawMessage) (any, error) {
	h := mux.handlers[method]
	if h == nil {
		return nil, &RemoteError{Code: CodeUnknownMethod, Message: method}
	}
	return h(ctx, raw)
}

// Cancelled is the error for work dropped because its caller gave up.
func Cancelled(err error) error {
	return &RemoteError{Code: CodeCancelled, Message: "the caller gave up: " + err.Error()}
}

// releases are the methods that give back what an earlier request made.
var releases = map[string]bool{
	MethodRouterClose: true, MethodTransportClose: true, MethodConsumerClose: true,
	MethodPipeUnconsume: true, MethodPipeUnproduce: true, MethodPipeClose: true,
}

// Releases reports whether method gives something back (a close, an
// unconsume): sent again after it was served, the worker answers not found,
// and one that never reached the worker leaves its object there for good.
func Releases(method string) bool { return releases[method] }
