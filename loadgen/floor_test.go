package loadgen

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/testenv"
)

// drained waits for a sink that reads late (its read pacing, or a starved
// CPU) instead of counting what it has not read yet as lost; a packet that
// never comes ends the wait once the count stands still.
func TestFloorWaitsForTheSinksLastReads(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	sink, err := client.ListenSink(300 * time.Millisecond)
	require.NoError(t, err)
	defer sink.Close()
	src, err := net.DialUDP("udp4", nil, sink.Addr())
	require.NoError(t, err)
	defer src.Close()
	rtpShaped := []byte{0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}
	_, err = src.Write(rtpShaped)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sink.Received() == 1 }, 2*time.Second, time.Millisecond)
	// The sink has read and now waits out its pacing: these wait in its socket.
	sent := time.Now()
	for range 19 {
		_, err := src.Write(rtpShaped)
		require.NoError(t, err)
	}
	require.Equal(t, int64(20), drained([]*client.Sink{sink}, 20, 500*time.Millisecond), "all 20, the last read late")
	require.Greater(t, time.Since(sent), 100*time.Millisecond, "they were read at the sink's next read")

	start := time.Now()
	require.Equal(t, int64(20), drained([]*client.Sink{sink}, 21, 100*time.Millisecond), "the 21st never comes")
	require.Less(t, time.Since(start), 2*time.Second)
}
