package worker

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConsumersFollowTheirTransportsRoute(t *testing.T) {
	tr := &transport{}
	set := func(rt *route) {
		tr.routeMu.Lock()
		defer tr.routeMu.Unlock()
		tr.setRouteLocked(rt)
	}
	early := &consumer{}
	tr.addRouteConsumer(early)
	require.Nil(t, early.route.Load(), "not connected yet")

	connected := &route{keys: &srtpKeys{}}
	set(connected)
	require.Same(t, connected, early.route.Load())
	late := &consumer{}
	tr.addRouteConsumer(late)
	require.Same(t, connected, late.route.Load(), "a consumer added later starts on the current route")

	tr.removeRouteConsumer(early)
	moved := &route{keys: connected.keys}
	set(moved)
	require.Same(t, moved, late.route.Load(), "ICE moved to another pair")
	require.Same(t, connected, early.route.Load(), "a removed consumer is left alone")
	require.Same(t, moved, tr.route.Load())

	tr.clearRouteConsumers()
	set(&route{})
	require.Same(t, moved, late.route.Load(), "a closed transport keeps no consumers")
}
