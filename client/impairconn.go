package client

import (
	"container/heap"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ImpairStats counts what a client's Impairment did to its media.
type ImpairStats struct {
	// RTPSentDropped and RTPReceivedDropped are the RTP packets dropped on
	// the way out and on the way in.
	RTPSentDropped     uint64 `json:"rtp_sent_dropped"`
	RTPReceivedDropped uint64 `json:"rtp_received_dropped"`
	// RTCPDropped counts dropped RTCP, both ways (receiver reports, NACKs).
	RTCPDropped uint64 `json:"rtcp_dropped"`
	// Delayed counts packets held back by jitter or reordering, Reordered
	// those held back ReorderDelay.
	Delayed   uint64 `json:"delayed"`
	Reordered uint64 `json:"reordered"`
}

// ImpairDrop is told each RTP packet an Impairment drops: sent (the peer's
// own stream on its way to the server) or received, with its header's SSRC
// and sequence number (SRTP leaves them in clear).
type ImpairDrop func(sent bool, ssrc uint32, seq uint16)

// impairing is the state one client's Impairment shares among its sockets.
type impairing struct {
	m       Impairment
	onDrop  ImpairDrop
	sockets atomic.Uint64

	rtpSent, rtpReceived, rtcp, delayed, reordered atomic.Uint64
}

func (ig *impairing) stats() ImpairStats {
	return ImpairStats{RTPSentDropped: ig.rtpSent.Load(), RTPReceivedDropped: ig.rtpReceived.Load(),
		RTCPDropped: ig.rtcp.Load(), Delayed: ig.delayed.Load(), Reordered: ig.reordered.Load()}
}

// socketImpair is one socket's two impairers and its queue of delayed sends.
type socketImpair struct {
	ig   *impairing
	recv *impairer // the socket's one reader at a time (ReadFrom, then its drainer)

	mu     sync.Mutex // pion writes from several goroutines
	send   *impairer
	delays *delayLine
}

func (ig *impairing) socket() *socketImpair {
	n := ig.sockets.Add(1)
	return &socketImpair{ig: ig, recv: newImpairer(ig.m, n, dirReceive), send: newImpairer(ig.m, n, dirSend)}
}

// isMedia tells SRTP and SRTCP (RFC 7983's 128-191 first byte) from STUN and
// DTLS.
func isMedia(b []byte) bool { return len(b) >= 12 && b[0] >= 128 && b[0] <= 191 }

// count records a drop of b.
func (ig *impairing) count(b []byte, sent bool) {
	if !isRTP(b) {
		ig.rtcp.Add(1)
		return
	}
	if sent {
		ig.rtpSent.Add(1)
	} else {
		ig.rtpReceived.Add(1)
	}
	if ig.onDrop != nil {
		ig.onDrop(sent, binary.BigEndian.Uint32(b[8:12]), binary.BigEndian.Uint16(b[2:4]))
	}
}

func (ig *impairing) countDelay(d time.Duration, reordered bool) {
	if d > 0 {
		ig.delayed.Add(1)
	}
	if reordered {
		ig.reordered.Add(1)
	}
}

// received decides a datagram read from the socket: dropped, or shown to the
// tap as arriving delay later. The reader's socket is drained in batches
// every pace, with kernel timestamps: a delay moves the arrival time the
// listener's accounting sees (loss, jitter, latency), not the read.
func (si *socketImpair) received(b []byte) (drop bool, delay time.Duration) {
	if !isMedia(b) {
		return false, 0
	}
	drop, delay, reordered := si.recv.next()
	if drop {
		si.ig.count(b, false)
		return true, 0
	}
	si.ig.countDelay(delay, reordered)
	return false, delay
}

// sent decides a datagram to send: dropped, sent now (false, false), or
// queued to go later (handled true).
func (si *socketImpair) sent(b []byte, sa unix.RawSockaddrInet4, send func([]byte, *unix.RawSockaddrInet4)) (handled bool) {
	if !isMedia(b) {
		return false
	}
	si.mu.Lock()
	defer si.mu.Unlock()
	drop, delay, reordered := si.send.next()
	if drop {
		si.ig.count(b, true)
		return true
	}
	if delay == 0 {
		return false
	}
	si.ig.countDelay(delay, reordered)
	if si.delays == nil {
		si.delays = newDelayLine(send)
	}
	si.delays.push(time.Now().Add(delay), append([]byte(nil), b...), sa)
	return true
}

func (si *socketImpair) close() {
	si.mu.Lock()
	defer si.mu.Unlock()
	if si.delays != nil {
		si.delays.close()
	}
}

// delayLine sends datagrams at their due time, in due-time order, from one
// goroutine.
type delayLine struct {
	send func([]byte, *unix.RawSockaddrInet4)

	mu     sync.Mutex
	q      delayHeap
	seq    uint64
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

type delayed struct {
	due time.Time
	n   uint64 // push order, to keep equal due times in order
	b   []byte
	sa  unix.RawSockaddrInet4
}

type delayHeap []delayed

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].n < h[j].n
	}
	return h[i].due.Before(h[j].due)
}
func (h delayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)   { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newDelayLine(send func([]byte, *unix.RawSockaddrInet4)) *delayLine {
	d := &delayLine{send: send, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *delayLine) push(due time.Time, b []byte, sa unix.RawSockaddrInet4) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.seq++
	heap.Push(&d.q, delayed{due: due, n: d.seq, b: b, sa: sa})
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *delayLine) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.done)
	}
}

func (d *delayLine) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.mu.Lock()
		var wait time.Duration = time.Hour
		for d.q.Len() > 0 {
			next := d.q[0]
			if w := time.Until(next.due); w > 0 {
				wait = w
				break
			}
			heap.Pop(&d.q)
			d.mu.Unlock()
			d.send(next.b, &next.sa)
			d.mu.Lock()
		}
		d.mu.Unlock()
		t.Reset(wait)
		select {
		case <-d.done:
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// ImpairStats is what the client's Impairment did so far (zero without one).
func (c *Client) ImpairStats() ImpairStats {
	if c.tn == nil || c.tn.imp == nil {
		return ImpairStats{}
	}
	return c.tn.imp.stats()
}
