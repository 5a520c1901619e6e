package signal

import (
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/wire"
)

// ICEServers hands a peer that joined the STUN and TURN servers of its
// media: the TURN server of the host whose worker carries it, with
// credentials for this peer only, then any external ones (rtc.ice_servers).
// Credentials go to joined peers and to no one else (docs/signalling.md).
type ICEServers interface {
	ICEServers(peerID string, media cluster.ServerID) []wire.ICEServer
}

// withICEServers fills the joined message's ice_servers; other messages pass
// as they are.
func (s *session) withICEServers(msg any) any {
	j, ok := msg.(wire.Joined)
	if !ok || s.srv.p.ICEServers == nil {
		return msg
	}
	j.ICEServers = s.srv.p.ICEServers.ICEServers(j.PeerID, s.media)
	return j
}
