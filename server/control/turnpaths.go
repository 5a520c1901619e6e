package control

import "net/netip"

// turnPaths is the embedded TURN server as the room host reads relayed
// peers' paths (roomhost.TURNAllocations). The host is built before the
// TURN server, so the server is looked up at each call; it is set before
// any worker event arrives, and a nil one (TURN off) knows no address.
type turnPaths struct{ c *Control }

func (t turnPaths) Protocol(relayed netip.AddrPort) (string, bool) { return t.c.TURNProtocol(relayed) }
