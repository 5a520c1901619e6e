package ipc

import (
	"context"
	"encoding/json"
	"fmt"
)

// Request is one worker request as a value: a method and its params, of
// that method's request type. Where a worker request crosses hosts (a room's
// owner working its routers on a relay) it travels as a Request: the relay
// decodes it once, here, and vets it by the Go type of its params, never by
// a method name. The params of a request that is decoded or built by
// NewRequest always have its method's type: RouterRef for router.close,
// PipeFlow for the four pipe flow methods, and so on.
type Request struct {
	method string
	params any
}

// NewRequest is req as a request of m.
func NewRequest[Req, Resp any](m Method[Req, Resp], req Req) Request {
	return Request{method: m.Name, params: req}
}

// Method is the request's method name, for the wire and for logs.
func (r Request) Method() string { return r.method }

// Params is the request's params, of its method's request type.
func (r Request) Params() any { return r.params }

// Send sends the request through c and decodes its reply into out.
func (r Request) Send(ctx context.Context, c Caller, out any) error {
	return c.Call(ctx, r.method, r.params, out)
}

// requestCodec decodes and type-checks one method's requests.
type requestCodec struct {
	decode func(raw json.RawMessage) (Request, error)
	of     func(params any) (Request, bool)
}

func codecOf[Req, Resp any](m Method[Req, Resp]) requestCodec {
	return requestCodec{
		decode: func(raw json.RawMessage) (Request, error) {
			var req Req
			if len(raw) > 0 && string(raw) != "null" {
				if err := json.Unmarshal(raw, &req); err != nil {
					return Request{}, &RemoteError{Code: CodeBadRequest, Message: m.Name + ": " + err.Error()}
				}
			}
			return NewRequest(m, req), nil
		},
		of: func(params any) (Request, bool) {
			req, ok := params.(Req)
			return NewRequest(m, req), ok
		},
	}
}

// requestCodecs are the worker's methods by name.
var requestCodecs = map[string]requestCodec{
	MethodInit:            codecOf(CallInit),
	MethodLoad:            codecOf(CallLoad),
	MethodRouterCreate:    codecOf(CallRouterCreate),
	MethodRouterClose:     codecOf(CallRouterClose),
	MethodTransportCreate: codecOf(CallTransportCreate),
	MethodTransportAnswer: codecOf(CallTransportAnswer),
	MethodTransportCand:   codecOf(CallTransportCand),
	MethodTransportClose:  codecOf(CallTransportClose),
	MethodTransportICE:    codecOf(CallTransportICE),
	MethodConsumerCreate:  codecOf(CallConsumerCreate),
	MethodConsumerClose:   codecOf(CallConsumerClose),
	MethodProducerPause:   codecOf(CallProducerPause),
	MethodPipeCreate:      codecOf(CallPipeCreate),
	MethodPipeConnect:     codecOf(CallPipeConnect),
	MethodPipeConsume:     codecOf(CallPipeConsume),
	MethodPipeUnconsume:   codecOf(CallPipeUnconsume),
	MethodPipeProduce:     codecOf(CallPipeProduce),
	MethodPipeUnproduce:   codecOf(CallPipeUnproduce),
	MethodPipeClose:       codecOf(CallPipeClose),
}

// DecodeRequest decodes a request of method from its JSON params. An unknown
// method is CodeUnknownMethod, params that do not decode into the method's
// type CodeBadRequest, both as a *RemoteError.
func DecodeRequest(method string, raw json.RawMessage) (Request, error) {
	c, ok := requestCodecs[method]
	if !ok {
		return Request{}, &RemoteError{Code: CodeUnknownMethod, Message: method}
	}
	return c.decode(raw)
}

// RequestOf is a Caller's method and params as a Request; it fails when the
// params are not of the method's request type (a caller's bug).
func RequestOf(method string, params any) (Request, error) {
	c, ok := requestCodecs[method]
	if !ok {
		return Request{}, &RemoteError{Code: CodeUnknownMethod, Message: method}
	}
	r, ok := c.of(params)
	if !ok {
		return Request{}, fmt.Errorf("%s: params are %T, not the method's request type", method, params)
	}
	return r, nil
}

// CallerFunc is a function as a Caller.
type CallerFunc func(ctx context.Context, method string, params, out any) error

// Call implements Caller.
func (f CallerFunc) Call(ctx context.Context, method string, params, out any) error {
	return f(ctx, method, params, out)
}
