package roomhost

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/wire"
)

// fakeTURN knows some relayed addresses, as the embedded TURN server knows
// its allocations.
type fakeTURN map[netip.AddrPort]string

func (f fakeTURN) Protocol(relayed netip.AddrPort) (string, bool) {
	p, ok := f[relayed]
	return p, ok
}

func peerOf(t *testing.T, h *Host, room, id string) wire.AdminPeer {
	t.Helper()
	d, err := h.Room(room)
	require.NoError(t, err)
	for _, p := range d.PeerList {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("peer %s not in room %s", id, room)
	return wire.AdminPeer{}
}

func TestPeerPathReadsTheWorkersPairThroughTURN(t *testing.T) {
	turn := fakeTURN{netip.MustParseAddrPort("127.0.0.1:49200"): wire.PathTURNTLS}
	for _, c := range []struct {
		name string
		ev   ipc.TransportPath
		turn TURNAllocations
		want string
	}{
		{"udp", ipc.TransportPath{Path: ipc.PathUDP, Remote: "127.0.0.1:5000"}, turn, wire.PathUDP},
		{"tcp", ipc.TransportPath{Path: ipc.PathTCP, Remote: "127.0.0.1:5000"}, turn, wire.PathTCP},
		{"relay known to TURN", ipc.TransportPath{Path: ipc.PathRelay, Remote: "127.0.0.1:49200"}, turn, wire.PathTURNTLS},
		{"relay unknown to TURN", ipc.TransportPath{Path: ipc.PathRelay, Remote: "127.0.0.1:49201"}, turn, wire.PathTURN},
		{"relay without TURN", ipc.TransportPath{Path: ipc.PathRelay, Remote: "127.0.0.1:49200"}, nil, wire.PathTURN},
		{"prflx udp that is a TURN allocation", ipc.TransportPath{Path: ipc.PathUDP, Remote: "127.0.0.1:49200"}, turn, wire.PathTURNTLS},
		{"resolved on the relay host", ipc.TransportPath{Path: ipc.Path(wire.PathTURNUDP), Remote: "127.0.0.9:49200"}, nil, wire.PathTURNUDP},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, peerPath(c.ev, c.turn))
		})
	}
}

func TestPathEventsShowInTheAdminViewAndTheCounts(t *testing.T) {
	ws := []*fakeWorker{newFakeWorker(0)}
	turn := fakeTURN{netip.MustParseAddrPort("127.0.0.1:49200"): wire.PathTURNUDP}
	h := New(Params{Workers: fakeWorkers{ws}, Limits: roomy, PipeListenIP: "127.0.0.1", CallTimeout: 5 * time.Second, TURN: turn})
	t.Cleanup(h.Stop)
	th := &testHost{t: t, h: h, ws: ws}
	a, _ := th.join("r", "a", false)
	b, _ := th.join("r", "b", false)

	// Not connected yet: no path, counted as "".
	require.Equal(t, "", peerOf(t, h, "r", a).Path)
	counts := h.PathCounts()
	require.Len(t, counts, len(wire.PeerPaths)+1, "every path is counted from the start")
	require.Equal(t, 2, counts[""])
	require.Zero(t, counts[wire.PathUDP])

	h.HandleEvent(ws[0].ref, ipc.PathEvent{TransportID: a, Path: ipc.PathUDP, Remote: "127.0.0.1:5000"})
	h.HandleEvent(ws[0].ref, ipc.PathEvent{TransportID: b, Path: ipc.PathRelay, Remote: "127.0.0.1:49200"})
	h.HandleEvent(ws[0].ref, ipc.PathEvent{TransportID: "TR_nobody", Path: ipc.PathUDP, Remote: "127.0.0.1:1"})
	th.settle()
	pa, pb := peerOf(t, h, "r", a), peerOf(t, h, "r", b)
	require.Equal(t, [2]string{wire.PathUDP, "127.0.0.1:5000"}, [2]string{pa.Path, pa.RemoteAddress})
	require.Equal(t, [2]string{wire.PathTURNUDP, "127.0.0.1:49200"}, [2]string{pb.Path, pb.RemoteAddress})
	counts = h.PathCounts()
	require.Equal(t, 1, counts[wire.PathUDP])
	require.Equal(t, 1, counts[wire.PathTURNUDP])
	require.Zero(t, counts[""])

	// ICE moves a (a restart onto TCP): the new pair replaces the old.
	h.HandleEvent(ws[0].ref, ipc.PathEvent{TransportID: a, Path: ipc.PathTCP, Remote: "127.0.0.1:6000"})
	th.settle()
	pa = peerOf(t, h, "r", a)
	require.Equal(t, [2]string{wire.PathTCP, "127.0.0.1:6000"}, [2]string{pa.Path, pa.RemoteAddress})
	counts = h.PathCounts()
	require.Equal(t, [2]int{0, 1}, [2]int{counts[wire.PathUDP], counts[wire.PathTCP]})

	// A peer that leaves is no longer counted.
	h.Leave(b)
	require.Zero(t, h.PathCounts()[wire.PathTURNUDP])
}

// A listener whose media is on a relay host: the relay host's worker
// reports the path, the relay host's TURN resolves it (the owner's does not
// know that allocation), and the event crosses to the owner as a relayed
// worker event does, by method and raw parameters.
func TestARelayedPathReachesTheOwnerResolvedByTheRelaysTURN(t *testing.T) {
	rp := newRelayPair(t, small)
	owner, relay := rp.owner, rp.relay
	relay.h.turn = fakeTURN{netip.MustParseAddrPort("127.0.0.12:49300"): wire.PathTURNTLS}
	p1, _ := owner.join("r", "p1", true)
	p2, _ := owner.join("r", "p2", true)
	owner.produce(p1)
	owner.produce(p2)
	owner.join("r", "l1", false)
	l2, _ := owner.join("r", "l2", false)
	require.Equal(t, cluster.LocalWorker("B", 0), mustRef(t, owner.h, l2))

	ev := ipc.PathEvent{TransportID: l2, Path: ipc.PathRelay, Remote: "127.0.0.12:49300"}
	raw := []byte(`{"transport_id":"` + l2 + `","path":"relay","remote":"127.0.0.12:49300"}`)
	resolved, raw := relay.h.ResolvePath(ev, raw)
	require.Equal(t, ipc.Path(wire.PathTURNTLS), resolved.(ipc.PathEvent).Path)
	who, ok := relay.h.Lender().OwnerOf(resolved)
	require.True(t, ok, "the relay knows the path event is about a peer it serves for A")
	require.Equal(t, cluster.ServerID("A"), who)

	crossed, err := ipc.DecodeEvent(ipc.EventTransportPath, raw)
	require.NoError(t, err)
	owner.h.HandleEvent(relay.ws[0].ref, crossed)
	owner.settle()
	p := peerOf(t, owner.h, "r", l2)
	require.Equal(t, [2]string{wire.PathTURNTLS, "127.0.0.12:49300"}, [2]string{p.Path, p.RemoteAddress})

	// Events other than a path, and paths this TURN does not resolve, pass
	// unchanged.
	st := ipc.StateEvent{TransportID: l2, State: ipc.ConnConnected}
	same, sameRaw := relay.h.ResolvePath(st, []byte("x"))
	require.Equal(t, ipc.Event(st), same)
	require.Equal(t, []byte("x"), sameRaw)
	udp := ipc.PathEvent{TransportID: l2, Path: ipc.PathUDP, Remote: "127.0.0.1:7000"}
	same, sameRaw = relay.h.ResolvePath(udp, []byte("y"))
	require.Equal(t, ipc.Event(udp), same)
	require.Equal(t, []byte("y"), sameRaw)
}
