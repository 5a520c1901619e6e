package control

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
)

// TestADrainWhileTheServerJoinsTheClusterIsNotARace: the admin API serves
// before the server joins the cluster, and the bus's drain command arrives
// as soon as the agent serves its queue, so a drain may run while
// startAgent keeps the agent; -race reads both.
func TestADrainWhileTheServerJoinsTheClusterIsNotARace(t *testing.T) {
	c, err := New(Params{Config: testConfig(1), WorkerCmd: testWorkerCmd, ServerID: "s1", Bus: bus.NewLocal()})
	require.NoError(t, err)
	drained := make(chan time.Time)
	go func() { drained <- c.Drain(time.Minute) }()
	require.NoError(t, c.startAgent())
	until := <-drained
	require.False(t, until.IsZero())
	<-c.Drained() // nothing here: the drain ends at once
	c.agent.Stop()
	c.borrower.Close()
	c.lending.Close()
	c.host.Stop()
}
