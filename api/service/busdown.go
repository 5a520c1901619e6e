package service

import (
	"time"

	"github.com/voicectl/voicectl/server/bus"
)

// BusRetryAfter is what a bus_unavailable answer tells the client to wait
// before asking again (Retry-After): the bus adapter dials the broker again
// at least this often (bus/amqp Params.ReconnectMax's default).
const BusRetryAfter = 5 * time.Second

// busDown is an ErrBusUnavailable refusal while the API is off the message
// broker, else nil. What needs the broker asks it first and answers at once:
// a request sent while the connection is down waits for a reconnect until
// its timeout, and a create would be answered no_capacity after
// cluster.create_timeout, which blames the servers for the broker.
func (o *Orchestrator) busDown() error {
	st := bus.StateOf(o.p.Bus)
	switch {
	case st.Connected:
		return nil
	case st.DownSince.IsZero():
		return refuse(ErrBusUnavailable, "the API is off the message broker; try again later")
	}
	return refuse(ErrBusUnavailable, "the API is off the message broker since %s (%s); try again later",
		st.DownSince.UTC().Format(time.RFC3339), time.Since(st.DownSince).Round(time.Second))
}
