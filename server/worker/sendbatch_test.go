package worker

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

func TestRTPHeaderLen(t *testing.T) {
	plain := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: []byte{1, 2, 3}}
	withExt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1, CSRC: []uint32{7, 8}}, Payload: []byte{1}}
	require.NoError(t, withExt.Header.SetExtension(1, []byte{0x9e}))
	for _, p := range []*rtp.Packet{plain, withExt} {
		raw, err := p.Marshal()
		require.NoError(t, err)
		require.Equal(t, p.Header.MarshalSize(), rtpHeaderLen(raw))
	}
	require.Zero(t, rtpHeaderLen([]byte{0x80, 0}), "too short")
	require.Zero(t, rtpHeaderLen([]byte{0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), "CSRC count beyond the packet")
}
