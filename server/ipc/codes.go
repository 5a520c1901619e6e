package ipc

import "github.com/voicectl/voicectl/server/wire"

// ErrorCode implements wire.Coder: a worker's refusal of what a client sent
// (an SDP or a candidate it cannot apply) is the client's to know; any
// other refusal is the server's own failure.
func (e *RemoteError) ErrorCode() wire.Code {
	switch e.Code {
	case CodeBadSDP, CodeBadCand:
		return e.Code
	}
	return wire.CodeInternal
}
