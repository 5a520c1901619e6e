package wire

import (
	"strconv"
)

// Resume is a client's first message on a new WebSocket when it takes a
// detached session back: Token is the joined message's ResumeToken, LastSeq
// the last server seq it got (docs/signalling.md, resuming).
type Resume struct {
	Envelope
	Token   string `json:"token"`
	LastSeq uint64 `json:"last_seq"`
}

// Resumed answers a Resume: the session is the new socket's; LastSeq is the
// last client seq the server got, so the client re-sends what came after.
type Resumed struct {
	Envelope
	PeerID  string `json:"peer_id"`
	LastSeq uint64 `json:"last_seq"`
}

// StampSeq puts "seq":seq first in msg, a JSON object marshalled from a
// message whose Seq is unset, so a sender numbers messages it holds only as
// bytes (the server's Session.Send takes any message type).
func StampSeq(msg []byte, seq uint64) []byte {
	if len(msg) < 2 || msg[0] != '{' {
		return msg
	}
	out := make([]byte, 0, len(msg)+len(`"seq":,`)+20)
	out = append(out, `{"seq":`...)
	out = strconv.AppendUint(out, seq, 10)
	if msg[1] != '}' {
		out = append(out, ',')
	}
	return append(out, msg[1:]...)
}
