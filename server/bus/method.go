package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/voicectl/voicectl/server/cluster"
)

// Method ties a message type to its request and reply bodies.
type Method[Req, Resp any] struct{ Type string }

// Call sends req through b and decodes the reply. requestID may be empty (a
// fresh one is made); give the same id to retry the same request.
func (m Method[Req, Resp]) Call(ctx context.Context, b Bus, dst Destination, from cluster.ServerID, requestID string, req Req) (Resp, error) {
	var out Resp
	body, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	if requestID == "" {
		requestID = NewRequestID()
	}
	env := Envelope{Type: m.Type, RequestID: requestID, From: from, Body: body}
	env.To = dst.Server
	if dl, ok := ctx.Deadline(); ok {
		env.Deadline = dl.UnixMilli()
	}
	rep, err := b.Request(ctx, dst, env)
	if err != nil {
		return out, err
	}
	if rep.Error != nil {
		return out, rep.Error
	}
	if len(rep.Body) > 0 {
		if err := json.Unmarshal(rep.Body, &out); err != nil {
			return out, Errorf(CodeBadRequest, "%s reply: %v", m.Type, err)
		}
	}
	return out, nil
}

// NewRequestID is a random request id.
func NewRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Mux serves typed methods as one Handler, refusing what is not for it.
type Mux struct {
	self     cluster.ServerID
	handlers map[string]func(context.Context, Envelope) (any, error)
}

// NewMux returns a Mux for server self ("" accepts commands for anyone).
func NewMux(self cluster.ServerID) *Mux {
	return &Mux{self: self, handlers: map[string]func(context.Context, Envelope) (any, error){}}
}

// Handle registers f for m.
func Handle[Req, Resp any](mux *Mux, m Method[Req, Resp], f func(context.Context, Envelope, Req) (Resp, error)) {
	mux.handlers[m.Type] = func(ctx context.Context, env Envelope) (any, error) {
		var req Req
		if len(env.Body) > 0 {
			if err := json.Unmarshal(env.Body, &req); err != nil {
				var coded *Error
				if errors.As(err, &coded) { // a body's codec refused it with its own code
					return nil, coded
				}
				return nil, Errorf(CodeBadRequest, "%s: %v", m.Type, err)
			}
		}
		return f(ctx, env, req)
	}
}

// Serve is the Mux as a Handler.
func (mux *Mux) Serve(ctx context.Context, env Envelope) (any, error) {
	if env.To != "" && mux.self != "" && env.To != mux.self {
		return nil, Errorf(CodeWrongServer, "message for server %s reached %s", env.To, mux.self)
	}
	h := mux.handlers[env.Type]
	if h == nil {
		return nil, Errorf(CodeUnknownType, "unknown message type %q", env.Type)
	}
	if env.Expired(time.Now()) {
		return nil, Errorf(CodeBadRequest, "%s expired before it was served", env.Type)
	}
	return h(ctx, env)
}
