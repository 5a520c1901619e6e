package worker

import (
	"fmt"
	"net"
	"time"

	"github.com/pion/ice/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// ICE over TCP (RFC 6544): the worker listens on one TCP port and offers a
// passive host candidate on it, beside its UDP one, for clients whose UDP is
// blocked. pion frames each packet with a 2-byte length (RFC 4571) and its TCP
// candidates have a lower type preference than UDP ones, so a client that can
// use both picks UDP.
//
// A transport whose selected pair is TCP takes pion's write path (see
// selectedPath): the worker's own batched writes are UDP only.
const (
	// tcpWriteBuffer bounds the bytes queued for one TCP connection: about
	// 3 s of a speaker's audio. A listener that reads slower than that loses
	// packets (pion's buffered connection drops a write when it is full); the
	// fan-out that writes never waits for it.
	tcpWriteBuffer = 64 << 10
	// tcpReadPackets is how many packets read from one connection wait for
	// pion before the connection is no longer read (TCP then slows the peer).
	tcpReadPackets = 256
	// tcpFirstCheckTimeout closes a connection that sends no ICE check this
	// long after it opened, or whose check names no transport of this worker
	// and is followed by nothing: a client checks at once (RFC 6544 §7.1),
	// and pion's 30 s would let anyone hold a connection and its goroutines
	// for nothing.
	tcpFirstCheckTimeout = 5 * time.Second
)

// listenTCP opens the worker's ICE-TCP port on the address the UDP mux
// listens on, or on every address when the UDP mux has several (pion offers
// a TCP candidate for each address the filters allow).
func listenTCP(p ipc.InitParams, udp *ice.MultiUDPMuxDefault, firstCheck time.Duration) (*ice.TCPMuxDefault, error) {
	ip := net.IPv4zero
	if addrs := udp.GetListenAddresses(); len(addrs) == 1 {
		if a, ok := addrs[0].(*net.UDPAddr); ok {
			ip = a.IP
		}
	}
	l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: ip, Port: p.TCPPort})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTCPListen, err)
	}
	return ice.NewTCPMuxDefault(ice.TCPMuxParams{
		Listener:        l,
		ReadBufferSize:  tcpReadPackets,
		WriteBufferSize: tcpWriteBuffer,

		FirstStunBindTimeout:         firstCheck,
		AliveDurationForConnFromStun: firstCheck,
	}), nil
}
