package worker

import (
	"net/netip"
	"slices"

	"github.com/pion/webrtc/v4"
	"golang.org/x/sys/unix"

	"github.com/voicectl/voicectl/internal/udpmsg"
	"github.com/voicectl/voicectl/server/ipc"
)

// route is how a connected transport's forwarded packets leave the worker.
// With keys, the worker encrypts them itself and writes them in batches to the
// selected candidate pair's remote address; without, they go through pion's
// track writer. A transport takes one of the two when it connects and keeps it:
// switching would let two SRTP contexts with one key number packets alike.
type route struct {
	keys   *srtpKeys
	sock   *mediaSocket
	dst    unix.RawSockaddrInet4
	remote netip.AddrPort // dst
}

// fast reports whether packets take the worker's own write path.
func (rt *route) fast() bool { return rt.keys != nil }

// updateRoute picks the route when the transport connects (decide) and follows
// ICE to another candidate pair later. Before DTLS completes there are no keys,
// so a pair change alone never decides.
func (t *transport) updateRoute(decide bool) {
	t.routeMu.Lock()
	defer t.routeMu.Unlock()
	prev := t.route.Load()
	if (prev == nil && !decide) || (prev != nil && !prev.fast()) {
		return
	}
	keys := t.keys.keys()
	if prev != nil {
		keys = prev.keys
	}
	sock, dst := t.selectedPath()
	switch {
	case keys != nil && sock != nil:
		t.setRouteLocked(&route{keys: keys, sock: sock, dst: udpmsg.Inet4(dst), remote: dst})
		t.moveIngressLocked(dst)
	case prev != nil && t.selectedTCP():
		// An ICE restart found only TCP (UDP blocked mid-call). The worker's
		// writes are UDP, and pion must not take over with the same keys:
		// its SRTP and SRTCP contexts would number packets as ours did (RFC
		// 3711 §9.1). The transport is failed, so that control has the peer
		// rejoin, on a transport that takes pion's path from the start.
		if !t.failedOverTCP {
			t.failedOverTCP = true
			t.w.log.Warn("transport moved to ICE over TCP mid-call: failing it so that the peer rejoins", "transport", t.id)
			t.w.notify(ipc.EventTransportState, ipc.TransportState{TransportID: t.id, State: ipc.ConnFailed})
		}
	case prev != nil:
		// Keep the last known path: ICE reported a pair we cannot map (it will
		// report the next one), and pion must not start writing with our keys.
	default:
		t.w.log.Debug("transport uses pion's write path", "transport", t.id, "keys", keys != nil)
		t.setRouteLocked(&route{})
	}
}

// selectedPath maps ICE's selected candidate pair to a worker socket and a
// destination, or returns nil when it cannot.
func (t *transport) selectedPath() (*mediaSocket, netip.AddrPort) {
	var none netip.AddrPort
	if t.w.api == nil || t.w.api.sockets == nil {
		return nil, none
	}
	pair, err := t.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil || pair.Local.Protocol != webrtc.ICEProtocolUDP {
		// ICE over TCP (RFC 6544): pion frames and writes; the worker's
		// sockets are UDP.
		return nil, none
	}
	local, err := netip.ParseAddr(pair.Local.Address)
	if err != nil {
		return nil, none
	}
	remote, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil || !remote.Unmap().Is4() {
		return nil, none
	}
	sock := t.w.api.sockets.socketFor(local)
	if sock == nil {
		return nil, none
	}
	return sock, netip.AddrPortFrom(remote.Unmap(), pair.Remote.Port)
}

// selectedTCP reports whether ICE's selected candidate pair is over TCP.
func (t *transport) selectedTCP() bool {
	pair, err := t.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	return err == nil && pair != nil && pair.Local != nil && pair.Local.Protocol == webrtc.ICEProtocolTCP
}

// setRouteLocked makes rt the route of t and of its consumers, which hold a
// copy so that a fan-out reads it without first loading the transport: one
// cache miss fewer per consumer and packet. t.routeMu is held.
func (t *transport) setRouteLocked(rt *route) {
	t.route.Store(rt)
	for _, c := range t.routeConsumers {
		c.route.Store(rt)
	}
}

// addRouteConsumer gives c t's route from now on.
func (t *transport) addRouteConsumer(c *consumer) {
	t.routeMu.Lock()
	defer t.routeMu.Unlock()
	t.routeConsumers = append(t.routeConsumers, c)
	c.route.Store(t.route.Load())
}

func (t *transport) removeRouteConsumer(c *consumer) {
	t.routeMu.Lock()
	defer t.routeMu.Unlock()
	t.routeConsumers = slices.DeleteFunc(t.routeConsumers, func(o *consumer) bool { return o == c })
}

func (t *transport) clearRouteConsumers() {
	t.routeMu.Lock()
	defer t.routeMu.Unlock()
	t.routeConsumers = nil
}
