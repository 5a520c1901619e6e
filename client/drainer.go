package client

import (
	"bytes"
	"runtime"
	"sync"
	"time"
)

// drainer reads the paced sockets of connected peers on one shared ticker: every
// pace it empties each socket with recvmmsg(2), gives RTP to the socket's tap
// and queues what the tap keeps, and everything else (STUN, DTLS, RTCP), for
// the socket's reader — pion's ICE candidate loop.
//
// Why one ticker for many sockets: a socket that sleeps and reads on its own
// costs a timer wake-up per pace, a thousand a second for 200 listeners at
// 200 ms, and the generator shares the machine with the server it measures. A
// drainer wakes a few times a pace for all its sockets. load.sh 2 x 200, three
// alternated runs against one server: the generator's CPU 1.78 -> 1.49 s per
// 10 s, and the server's per forwarded packet 8.81 -> 8.43 µs, as it competes
// less for the two cores; make bench's calibration ramps further before the
// generator runs out.
type drainer struct {
	pace time.Duration
	rb   *readBatch // used only by the run goroutine

	mu      sync.Mutex
	conns   []*pacedConn
	running bool
}

// drainers are shared by every paced socket of the process: per pace, one per
// P, sockets dealt round-robin.
var drainers struct {
	mu     sync.Mutex
	byPace map[time.Duration][]*drainer
	next   int
}

func drainerFor(pace time.Duration) *drainer {
	drainers.mu.Lock()
	defer drainers.mu.Unlock()
	ds := drainers.byPace[pace]
	if ds == nil {
		ds = make([]*drainer, runtime.GOMAXPROCS(0))
		for i := range ds {
			ds[i] = &drainer{pace: pace, rb: newReadBatch(batchSize)}
		}
		if drainers.byPace == nil {
			drainers.byPace = map[time.Duration][]*drainer{}
		}
		drainers.byPace[pace] = ds
	}
	drainers.next++
	return ds[drainers.next%len(ds)]
}

// add makes d the reader of c's socket from its next tick on.
func (d *drainer) add(c *pacedConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns = append(d.conns, c)
	if !d.running {
		d.running = true
		go d.run()
	}
}

// drainSlice is how often a drainer reads some of its sockets: each socket is
// read once a pace, but a pace's reads are spread over it in slices. Read in
// one burst, a few thousand datagrams were freed at once and the sender's CPU
// took the frees back in a burst too (on loopback, skb frees are deferred to
// the CPU that allocated them): make bench saw fan-outs delayed by milliseconds
// (delay p99 5.8 ms in some runs). Thinner slices cost the generator more
// (load.sh 2 x 200, 200 ms pace: 1.37 s of CPU in one burst, 1.55 in 50 ms
// slices, 1.76 in 10 ms slices; the worker's figure within the noise).
const drainSlice = 50 * time.Millisecond

// run drains its sockets, each every pace; it ends when all of them are closed.
func (d *drainer) run() {
	slices := max(1, int(d.pace/drainSlice))
	tick := time.NewTicker(d.pace / time.Duration(slices))
	defer tick.Stop()
	var conns []*pacedConn
	for n := 0; ; n++ {
		<-tick.C
		d.mu.Lock()
		live := d.conns[:0]
		for _, c := range d.conns {
			if !c.isClosed() {
				live = append(live, c)
			}
		}
		clear(d.conns[len(live):])
		d.conns = live
		if len(live) == 0 {
			d.running = false
			d.mu.Unlock()
			return
		}
		for i := n % slices; i < len(live); i += slices {
			conns = append(conns, live[i])
		}
		d.mu.Unlock()
		for _, c := range conns {
			d.drain(c)
		}
		clear(conns)
		conns = conns[:0]
	}
}

// drain reads c's socket until it is empty.
func (d *drainer) drain(c *pacedConn) {
	fd, ok := c.acquire()
	if !ok {
		return
	}
	defer c.release()
	for {
		n, err := d.rb.recv(fd)
		if err != 0 {
			if !temporary(err) {
				c.enqueue(queued{err: c.readError(err)})
			}
			return
		}
		for i := range n {
			if c.tapKeeps(d.rb, i) {
				c.enqueue(queued{b: bytes.Clone(d.rb.data(i)), from: d.rb.from(i)})
			}
		}
		if n < d.rb.size() {
			return
		}
	}
}
