package client

import (
	"net"
	"sync/atomic"
	"time"
)

// Sink is a loopback UDP socket read the way a load-generator listener reads
// its own (a pacedConn: paced batches, outside the netpoller), discarding what
// arrives. The forwarding floor sends to sinks so that its receivers cost the
// sender exactly what listeners cost a worker.
type Sink struct {
	conn     *pacedConn
	received atomic.Int64
	done     chan struct{}
}

// ListenSink opens a sink on 127.0.0.1 that reads every pace.
func ListenSink(pace time.Duration) (*Sink, error) {
	connected := &atomic.Bool{}
	connected.Store(true)
	s := &Sink{done: make(chan struct{})}
	tap := func(uint32, uint16, uint32, int, time.Time) bool {
		s.received.Add(1)
		return false
	}
	c, err := listenPaced(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, tap, pace, connected)
	if err != nil {
		return nil, err
	}
	s.conn = c
	go func() {
		defer close(s.done)
		buf := make([]byte, 1500)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return s, nil
}

// Addr is where to send.
func (s *Sink) Addr() *net.UDPAddr { return s.conn.laddr }

// Received counts the RTP-shaped datagrams read so far.
func (s *Sink) Received() int64 { return s.received.Load() }

// Close closes the socket and waits for its reader.
func (s *Sink) Close() error {
	err := s.conn.Close()
	<-s.done
	return err
}
