// Package relay is relays between servers, both ways. A room's owner
// chooses the server that lends it a router (Borrower, the room host's
// Relays) and reaches it with an ipc.Caller that carries worker requests
// over the bus to the server that runs the worker, so a relay router is
// worked through the same ipc.WorkerClient as a local one. The relay serves
// those calls within what it lends the owner and sends its workers' events
// about them back (Lending). control only builds and wires both
// (../shared/design.md, "Where cluster code lives").
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
)

// Caller sends worker requests to worker Worker of server To.
type Caller struct {
	Bus  bus.Bus
	From cluster.ServerID
	To   cluster.WorkerRef
	// Down, when it reports true, fails calls at once: the server is known
	// dead, and a request to its queue would only wait out its deadline.
	Down func() bool
	// Resend, when set, takes a release (ipc.Releases) the relay did not
	// answer in time, to send it again: the caller goes on as if it were
	// served, and the relay, alive but slow (a broker stalled for seconds),
	// would otherwise keep the transport, router or pipe it was told to
	// close, with the capacity reserved for it, for good.
	Resend func(method string, params any)
}

// errUnanswered is a relay that did not answer in time: it may yet serve
// the request, or never have got it.
var errUnanswered = errors.New("no answer in time")

var _ ipc.Caller = Caller{}

// NewClient is the WorkerClient of a worker on another server.
func NewClient(b bus.Bus, from cluster.ServerID, to cluster.WorkerRef) *ipc.Client {
	return ipc.NewClient(to, Caller{Bus: b, From: from, To: to})
}

// Call implements ipc.Caller. A refusal by the far worker comes back as the
// *ipc.RemoteError it answered, so callers tell "not found" or "exists" from
// a failure the same way for local and relay workers; a relay server that
// does not answer in time is ipc.ErrWorkerDown.
func (c Caller) Call(ctx context.Context, method string, params, out any) error {
	err := c.call(ctx, method, params, out)
	if c.Resend != nil && errors.Is(err, errUnanswered) && ipc.Releases(method) {
		c.Resend(method, params)
	}
	return err
}

func (c Caller) call(ctx context.Context, method string, params, out any) error {
	if c.Down != nil && c.Down() {
		return fmt.Errorf("%s on %s: %w (its server is gone)", method, c.To, ipc.ErrWorkerDown)
	}
	req, err := ipc.RequestOf(method, params)
	if err != nil {
		return err
	}
	rep, err := bus.CallWorker.Call(ctx, c.Bus, bus.ToWorkers(c.To.Server), c.From, "",
		bus.WorkerCall{Worker: c.To.Index, Request: req})
	if err != nil && ctx.Err() != nil {
		// The owner gave up (or its time ran out): that is its answer,
		// whatever the relay said meanwhile (its worker's "cancelled" is
		// only the echo of it), as a local worker's caller hears it.
		err = ctx.Err()
	}
	if err != nil {
		var be *bus.Error
		if errors.As(err, &be) {
			if be.Code == CodeWorkerDown {
				return fmt.Errorf("%s on %s: %w", method, c.To, ipc.ErrWorkerDown)
			}
			return &ipc.RemoteError{Code: be.Code, Message: be.Message}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s on %s: %w (%w: %v)", method, c.To, ipc.ErrWorkerDown, errUnanswered, err)
		}
		if errors.Is(err, bus.ErrNoRoute) {
			return fmt.Errorf("%s on %s: %w (%v)", method, c.To, ipc.ErrWorkerDown, err)
		}
		return err
	}
	if out != nil && len(rep) > 0 && string(rep) != "null" {
		if err := json.Unmarshal(rep, out); err != nil {
			return fmt.Errorf("%s reply from %s: %w", method, c.To, err)
		}
	}
	return nil
}

// BusError is a worker's answer as a bus reply error, the other half of
// Call's mapping. It is not a client's mapping (wire.CodeOf, which the bus
// reply applies to any other error): the worker's own code crosses as it
// is, so the owner gets back the *ipc.RemoteError the worker answered
// (ipc.CodeExists and ipc.CodeNotFound are how a repeated call is taken as
// done), and a worker that is down crosses as CodeWorkerDown.
func BusError(err error) error {
	var re *ipc.RemoteError
	switch {
	case errors.As(err, &re):
		return &bus.Error{Code: re.Code, Message: re.Message}
	case errors.Is(err, ipc.ErrWorkerDown), errors.Is(err, ipc.ErrClosed):
		return bus.Errorf(CodeWorkerDown, "%v", err)
	}
	return err
}
