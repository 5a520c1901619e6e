package relay

import (
	"context"
	"encoding/json"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
)

// Lender is what serving owners' worker calls asks of the routers this
// server lends (roomhost.Lender): whether a request may touch what it names,
// and what the request changed once it was served.
type Lender interface {
	// Check vets an owner's request and returns the one to send on.
	Check(from cluster.ServerID, req ipc.Request) (ipc.Request, error)
	// Done records what a served request changed.
	Done(from cluster.ServerID, req ipc.Request)
}

// Server serves the worker calls owners send this server for the routers it
// lent them: the relay's half of Caller.
type Server struct {
	Self   cluster.ServerID
	Lender Lender
	// Worker reaches this server's worker i; nil when there is none.
	Worker func(i int) ipc.Caller
}

// Call runs an owner's worker call on one of this server's workers, within
// what the lender lends the owner. Its errors are bus errors (BusError), so
// the owner's Caller gets back what the worker answered.
func (s Server) Call(ctx context.Context, from cluster.ServerID, call bus.WorkerCall) (json.RawMessage, error) {
	w := s.Worker(call.Worker)
	if w == nil {
		return nil, bus.Errorf(bus.CodeNotFound, "no worker %d on %s", call.Worker, s.Self)
	}
	req, err := s.Lender.Check(from, call.Request)
	if err != nil {
		return nil, BusError(err)
	}
	var out json.RawMessage
	err = req.Send(ctx, w, &out)
	s.Lender.Done(from, call.Request)
	if err != nil {
		return nil, BusError(err)
	}
	return out, nil
}
