package rabbittest

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/testenv"
)

// fakeNode answers every connection's protocol header with a
// connection.start frame whose cluster_name is name.
func fakeNode(t *testing.T, name string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	// class 10, method 10, version 0-9, then the server properties table
	// with cluster_name alone, mechanisms and locales.
	var props []byte
	props = append(props, "\x0ccluster_nameS"...)
	props = binary.BigEndian.AppendUint32(props, uint32(len(name)))
	props = append(props, name...)
	payload := []byte{0, 10, 0, 10, 0, 9}
	payload = binary.BigEndian.AppendUint32(payload, uint32(len(props)))
	payload = append(payload, props...)
	frame := []byte{1, 0, 0}
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(payload)))
	frame = append(append(frame, payload...), 0xce)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			header := make([]byte, 8)
			_, _ = c.Read(header)
			_, _ = c.Write(frame)
			_ = c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// A node takes its port late: another node, or anything else, may hold it
// by then, and the node's tests must not take it for theirs.
func TestListeningIsThisNodeAnswering(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	b := &Broker{node: "vt7_3@localhost", Port: fakeNode(t, "vt7_3@vm")}
	require.True(t, b.listening(), "its own name, with the host's")
	b.Port = fakeNode(t, "vt7_31@vm")
	require.False(t, b.listening(), "another node of this process")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		if c, err := l.Accept(); err == nil {
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			_ = c.Close()
		}
	}()
	b.Port = l.Addr().(*net.TCPAddr).Port
	require.False(t, b.listening(), "something that is no broker")
}

func TestFreePortNeverHandsAPortOutTwice(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	seen := map[int]bool{}
	for range 500 {
		p := freePort(t)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}
