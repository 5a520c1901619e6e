package client

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/testenv"
)

// TestGoneTellsAClosedPortFromASilentNetwork: a resume to a server whose
// port refuses (its process is gone) ends at once, so the owner rejoins
// elsewhere; a network that does not answer is tried again.
func TestGoneTellsAClosedPortFromASilentNetwork(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = websocket.Dial(ctx, "ws://"+addr+"/v1/rtc?resume=1", nil)
	require.Error(t, err)
	require.True(t, gone(err), "refused: %v", err)

	require.True(t, gone(&HTTPError{Status: 503}))
	require.False(t, gone(context.DeadlineExceeded))
	require.False(t, gone(errors.New("network is unreachable")))
}

// TestKeptMessagesAreBounded: the client keeps its last keptMessages
// numbered messages for a resume, oldest dropped first.
func TestKeptMessagesAreBounded(t *testing.T) {
	c := &Client{}
	for i := uint64(1); i <= keptMessages+5; i++ {
		c.keepLocked(i, []byte("x"))
	}
	require.Len(t, c.sentMsgs, keptMessages)
	require.Equal(t, uint64(6), c.sentMsgs[0].seq)
	require.Equal(t, uint64(keptMessages+5), c.sentMsgs[len(c.sentMsgs)-1].seq)
}
