package service

import (
	"time"

	"github.com/voicectl/voicectl/server/bus"
)

// BusRetryAfter is what a bus_unavailable answer tells the client to wait
// before asking again (Retry-After): the bus adapter dials the broker again
// at least this often (bus/amqp Params.ReconnectMax's default).
const BusRetryAfter = 5 * time.Second

// busState is the API's bus as its answers tell it (/readyz, GET
// /v1/servers, bus_unavailable): off the broker while its connection is
// down, and also while its own beats do not come back over the broker
// (busWatch.downSince), which a frozen broker does for seconds before the
// AMQP heartbeat drops the connection. DownSince is the earlier of the two:
// a freeze that ends in a dropped connection was an outage from the first
// beat lost.
func (o *Orchestrator) busState(now time.Time) bus.State {
	st := bus.StateOf(o.p.Bus)
	since := o.watch.downSince(now)
	if since.IsZero() {
		return st
	}
	if st.Connected || st.DownSince.IsZero() || since.Before(st.DownSince) {
		st = bus.State{DownSince: since}
	}
	return st
}

// busDown is an ErrBusUnavailable refusal while the API is off the message
// broker (busState), else nil. What needs the broker asks it first and
// answers at once: a request sent while the connection is down (or the
// broker frozen) waits until its timeout, and a create would be answered
// no_capacity after cluster.create_timeout, which blames the servers for
// the broker.
func (o *Orchestrator) busDown() error {
	st := o.busState(time.Now())
	switch {
	case st.Connected:
		return nil
	case st.DownSince.IsZero():
		return refuse(ErrBusUnavailable, "the API is off the message broker; try again later")
	}
	return refuse(ErrBusUnavailable, "the API is off the message broker since %s (%s); try again later",
		st.DownSince.UTC().Format(time.RFC3339), time.Since(st.DownSince).Round(time.Second))
}
