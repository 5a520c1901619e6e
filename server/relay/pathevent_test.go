package relay_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/bus"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/relay"
)

// lentTransport lends transport "TR_lent" to owner "A".
type lentTransport struct{ lender }

func (l *lentTransport) OwnerOf(ev ipc.Event) (cluster.ServerID, bool) {
	if ev.Key() == "TR_lent" {
		return "A", true
	}
	return "", false
}

// A relayed peer's path event (issue 32) crosses to the room's owner as
// the relay's control sent it: a TURN path already resolved on the relay
// host, and the remote address.
func TestARelayedPeersPathReachesTheOwner(t *testing.T) {
	b := bus.NewLocal()
	got := make(chan heard, 4)
	owner := relay.NewBorrower(relay.BorrowerParams{ServerID: "A", Bus: b,
		OnEvent: func(from cluster.WorkerRef, ev ipc.Event) { got <- heard{from, ev} }})
	require.NoError(t, owner.Start(newPeers("A")))
	l := relay.NewLending(relay.LendingParams{ServerID: "B", Bus: b, Lent: &lentTransport{}, Workers: workers{newWorker()}})
	l.Start()
	t.Cleanup(func() {
		l.Close()
		owner.Close()
		require.NoError(t, b.Close())
	})

	ref := cluster.LocalWorker("B", 0)
	ev := ipc.PathEvent{TransportID: "TR_lent", Path: "turn/tls", Remote: "127.0.0.12:49300"}
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	require.True(t, l.WorkerEvent(ref, ipc.EventTransportPath, raw, ev))
	mine := ipc.PathEvent{TransportID: "TR_mine", Path: ipc.PathUDP, Remote: "127.0.0.1:5000"}
	require.False(t, l.WorkerEvent(ref, ipc.EventTransportPath, []byte(`{}`), mine), "this server's own peer's path stays here")
	select {
	case h := <-got:
		require.Equal(t, ref, h.from)
		require.Equal(t, ipc.Event(ev), h.ev)
	case <-time.After(5 * time.Second):
		t.Fatal("the path event did not reach the owner")
	}
}
