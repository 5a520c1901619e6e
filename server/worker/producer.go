package worker

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// producer is an incoming Opus stream on a router: a peer's track (local) or a
// stream arriving over a pipe from another router (piped). Its id is the same on
// every router it reaches.
type producer struct {
	id     string
	r      *router
	t      *transport     // owner transport of a local producer
	pipe   *pipeTransport // source pipe of a piped producer
	ssrc   uint32         // the pipe's SSRC of a piped producer
	paused atomic.Bool
	// selected is false while loudest-N forwarding holds this producer back.
	selected atomic.Bool
	// keepHistory: a consumer's transport negotiated NACK (refreshNACK), so
	// history is kept; askNACK: a local producer's transport did, so its
	// publisher is asked for gaps. Here, beside the flags every dispatch
	// reads, so that plain rooms pay no cache miss for them.
	keepHistory, askNACK atomic.Bool
	// levelExtID is the negotiated id of the RFC 6464 audio-level extension, 0 if none.
	levelExtID uint8
	// redPT is the payload type of the stream's RED packets (RFC 2198,
	// red.go), 0 if it has none: the publisher's, or redPayloadType for a
	// piped producer (pipes carry RED under it).
	redPT uint8

	// dispatchMu is held through a dispatch: a local producer's packets come
	// from the track's reader until the worker's sockets take its stream, and
	// a few it buffered still come after (see ingressTable).
	dispatchMu sync.Mutex
	batch      sendBatch       // under dispatchMu
	ready      []readyConsumer // likewise
	// stats feed a local producer's receiver reports, nil for a piped one.
	stats *receiveStats
	// For generic NACK (nack.go), under dispatchMu: the packets forwarded
	// lately, a packet to parse one into for pion's write path, and a local
	// producer's missing packets and the NACKs that ask for them.
	history   packetHistory
	rtxPacket rtp.Packet
	loss      lossTracker
	nackOut   nackWriter

	mu        sync.Mutex
	consumers atomic.Pointer[[]*consumer] // copy-on-write: read without a lock per packet
	pipeOuts  atomic.Pointer[[]*pipeOut]
	closeOnce sync.Once

	// levelPeak is the loudest packet (127 - RFC 6464 level) since the last
	// observer tick: speech is bursty, so the peak says more than the mean.
	levelPeak atomic.Uint32
}

// readyConsumer is a consumer that can take the packet being dispatched, with
// its transport's route.
type readyConsumer struct {
	c    *consumer
	rt   *route
	fast bool
}

func newProducer(id string, r *router) *producer {
	p := &producer{id: id, r: r}
	noCons := []*consumer{}
	p.consumers.Store(&noCons)
	noOuts := []*pipeOut{}
	p.pipeOuts.Store(&noOuts)
	p.selected.Store(r.maxForwarded == 0)
	return p
}

func newLocalProducer(id string, t *transport, recv *webrtc.RTPReceiver) *producer {
	p := newProducer(id, t.r)
	p.t = t
	p.stats = newReceiveStats()
	params := recv.GetParameters()
	for _, ext := range params.HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			p.levelExtID = uint8(ext.ID)
		}
	}
	for _, c := range params.Codecs {
		if strings.EqualFold(c.MimeType, REDCodec.MimeType) {
			p.redPT = uint8(c.PayloadType)
		}
	}
	return p
}

// readTrack reads a local producer's track until it ends. The worker's
// sockets take the stream over once it flows (see ingressTable); the track
// then ends with its transport.
func (p *producer) readTrack(track *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	settled := false // the ingress opened, or cannot
	strays := 0      // packets of a payload type the answer did not negotiate
	for {
		n, _, err := track.Read(buf)
		if errors.Is(err, webrtc.ErrCodecNotFound) {
			// Pion cannot say what such a packet is: it goes to nobody, and
			// the stream goes on.
			if strays++; strays == 1 && n > 1 {
				p.r.w.log.Debug("dropping packets of a payload type the answer did not negotiate", "producer", p.id, "payload_type", buf[1]&0x7f)
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.r.w.log.Debug("producer read ended", "producer", p.id, "err", err)
			}
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		p.dispatch(buf[:n], &pkt)
		if !settled {
			settled = p.t.openIngress(p, pkt.SSRC)
		}
	}
}

// dispatch forwards one packet to every pipe and, unless loudest-N holds the
// producer back, to every consumer. raw is the packet's bytes, pkt the same parsed.
// Consumers on the worker's own write path go out in one batch at the end.
func (p *producer) dispatch(raw []byte, pkt *rtp.Packet) {
	p.dispatchMu.Lock()
	defer p.dispatchMu.Unlock()
	arrived := time.Now()
	w := p.r.w
	size := uint64(pkt.MarshalSize())
	w.packetsIn.Add(1)
	w.bytesIn.Add(size)
	if p.stats != nil {
		p.stats.packet(pkt.SSRC, pkt.SequenceNumber, pkt.Timestamp, arrived.UnixNano())
	}
	if p.levelExtID != 0 {
		if ext := pkt.GetExtension(p.levelExtID); len(ext) > 0 {
			var level rtp.AudioLevelExtension
			if level.Unmarshal(ext) == nil {
				loud := uint32(127 - level.Level)
				for cur := p.levelPeak.Load(); loud > cur && !p.levelPeak.CompareAndSwap(cur, loud); cur = p.levelPeak.Load() {
				}
			}
		}
	}
	// RED is checked once here for every listener: a malformed packet is
	// dropped whole (its primary cannot be trusted either).
	var red *redPacket
	var layout redPacket
	if pkt.PayloadType == p.redPT && p.redPT != 0 {
		var err error
		if layout, err = parseRED(pkt.Payload); err != nil {
			w.redMalformed.Add(1)
			return
		}
		red = &layout
	}
	// A producer loudest-N holds back crosses no pipe either: the far
	// router would hold it back too, and across hosts it would cost
	// bandwidth for nothing.
	if p.paused.Load() || !p.selected.Load() {
		return
	}
	if p.askNACK.Load() {
		p.loss.packet(pkt.SSRC, pkt.SequenceNumber, arrived.UnixNano())
		if p.loss.n > 0 {
			p.askForMissing(arrived.UnixNano())
		}
	}
	for _, o := range *p.pipeOuts.Load() {
		if o.write(pkt, red != nil) == nil {
			w.packetsOut.Add(1)
			w.bytesOut.Add(size)
		}
	}
	cons := *p.consumers.Load()
	if len(cons) == 0 {
		return
	}
	now := arrived.UnixNano()
	hdrLen := sealableHeaderLen(raw)
	if p.keepHistory.Load() {
		p.history.keep(raw, pkt.SequenceNumber, now)
	}
	// First the consumers that can take the packet, in a pass that does
	// nothing else: each one's route and AES-GCM state are cache misses, and
	// with no work between them the CPU waits for many at once instead of one
	// after another.
	ready := p.ready[:0]
	for _, c := range cons {
		if rt := c.route.Load(); rt != nil && c.bound.Load() {
			ready = append(ready, readyConsumer{c: c, rt: rt, fast: rt.keys != nil})
			if g := c.gcm; g != nil {
				g.warm()
			}
		}
	}
	p.ready = ready
	direct := 0
	for _, r := range ready {
		if r.c.forward(r.rt, &p.batch, raw, hdrLen, pkt, red, now) && !r.fast {
			direct++
		}
	}
	sent := uint64(direct + p.batch.flush(w.handshakes.Load() > 0))
	w.packetsOut.Add(sent)
	w.bytesOut.Add(sent * size)
	w.delay.observe(time.Since(arrived))
}

func addTo[T comparable](mu *sync.Mutex, list *atomic.Pointer[[]T], v T) {
	mu.Lock()
	defer mu.Unlock()
	old := *list.Load()
	next := make([]T, 0, len(old)+1)
	next = append(append(next, old...), v)
	list.Store(&next)
}

func removeFrom[T comparable](mu *sync.Mutex, list *atomic.Pointer[[]T], v T) {
	mu.Lock()
	defer mu.Unlock()
	old := *list.Load()
	next := make([]T, 0, len(old))
	for _, o := range old {
		if o != v {
			next = append(next, o)
		}
	}
	list.Store(&next)
}

func (p *producer) addConsumer(c *consumer) {
	addTo(&p.mu, &p.consumers, c)
	p.refreshNACK()
}

func (p *producer) removeConsumer(c *consumer) {
	removeFrom(&p.mu, &p.consumers, c)
	p.refreshNACK()
}
func (p *producer) addPipeOut(o *pipeOut)    { addTo(&p.mu, &p.pipeOuts, o) }
func (p *producer) removePipeOut(o *pipeOut) { removeFrom(&p.mu, &p.pipeOuts, o) }

// takeLevel returns the peak loudness since the last call, 0 when nothing arrived.
func (p *producer) takeLevel() int {
	peak := p.levelPeak.Swap(0)
	if p.paused.Load() {
		return 0
	}
	return int(peak)
}

// closeProducer removes p from its router and closes every consumer and pipe out of it.
func (w *Worker) closeProducer(p *producer) {
	p.closeOnce.Do(func() {
		w.mu.Lock()
		if w.producers[p.key()] == p {
			delete(w.producers, p.key())
		}
		w.mu.Unlock()
		p.r.mu.Lock()
		delete(p.r.producers, p.id)
		p.r.mu.Unlock()
		p.mu.Lock()
		cons := *p.consumers.Load()
		outs := *p.pipeOuts.Load()
		noCons := []*consumer{}
		p.consumers.Store(&noCons)
		noOuts := []*pipeOut{}
		p.pipeOuts.Store(&noOuts)
		p.mu.Unlock()
		for _, c := range cons {
			c.t.dropConsumer(c)
		}
		for _, o := range outs {
			o.pipe.forgetOut(o)
		}
		if p.pipe != nil {
			p.pipe.forgetProducer(p)
			return
		}
		w.notify(ipc.EventProducerClosed, ipc.ProducerEvent{RouterID: p.r.id, TransportID: p.t.id, ProducerID: p.id})
	})
}

// key is the producer's key in the worker's table. A worker holds at most one
// router per room, and rooms never share producer ids, so the id is unique here.
func (p *producer) key() string { return p.id }
