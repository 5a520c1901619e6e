package worker

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/voicectl/voicectl/server/ipc"
)

// producer is a peer's incoming Opus track and the consumers it feeds.
type producer struct {
	id     string
	t      *transport
	track  *webrtc.TrackRemote
	paused atomic.Bool
	// levelExtID is the negotiated id of the RFC 6464 audio-level extension, 0 if none.
	levelExtID uint8

	mu        sync.Mutex
	consumers atomic.Pointer[[]*consumer] // copy-on-write, read without a lock per packet
	closeOnce sync.Once

	// levelSum and levelCount accumulate loudness (127 - RFC 6464 level) between observer ticks.
	levelSum   atomic.Uint64
	levelCount atomic.Uint64
}

func newProducer(id string, t *transport, track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) *producer {
	p := &producer{id: id, t: t, track: track}
	for _, ext := range recv.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			p.levelExtID = uint8(ext.ID)
		}
	}
	empty := []*consumer{}
	p.consumers.Store(&empty)
	return p
}

// forward reads the track until it ends and copies each packet to every consumer.
func (p *producer) forward() {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var level rtp.AudioLevelExtension
	for {
		n, _, err := p.track.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.t.w.log.Debug("producer read ended", "producer", p.id, "err", err)
			}
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		p.t.w.packetsIn.Add(1)
		if p.levelExtID != 0 {
			if ext := pkt.GetExtension(p.levelExtID); ext != nil && level.Unmarshal(ext) == nil {
				p.levelSum.Add(uint64(127 - level.Level))
				p.levelCount.Add(1)
			}
		}
		if p.paused.Load() {
			continue
		}
		for _, c := range *p.consumers.Load() {
			if err := c.track.WriteRTP(&pkt); err == nil {
				p.t.w.packetsOut.Add(1)
			}
		}
	}
}

func (p *producer) addConsumer(c *consumer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.consumers.Load()
	next := make([]*consumer, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, c)
	p.consumers.Store(&next)
}

func (p *producer) removeConsumer(c *consumer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.consumers.Load()
	next := make([]*consumer, 0, len(old))
	for _, o := range old {
		if o != c {
			next = append(next, o)
		}
	}
	p.consumers.Store(&next)
}

// takeLevel returns the mean loudness since the last call, 0 when nothing arrived.
func (p *producer) takeLevel() int {
	n := p.levelCount.Swap(0)
	s := p.levelSum.Swap(0)
	if n == 0 || p.paused.Load() {
		return 0
	}
	return int(s / n)
}

// closeProducer removes p from its router and closes every consumer of it.
func (w *Worker) closeProducer(p *producer) {
	p.closeOnce.Do(func() {
		w.mu.Lock()
		delete(w.producers, p.id)
		w.mu.Unlock()
		p.t.r.mu.Lock()
		delete(p.t.r.producers, p.id)
		p.t.r.mu.Unlock()
		p.mu.Lock()
		cons := *p.consumers.Load()
		empty := []*consumer{}
		p.consumers.Store(&empty)
		p.mu.Unlock()
		for _, c := range cons {
			c.t.dropConsumer(c)
		}
		w.notify(ipc.EventProducerClosed, ipc.ProducerEvent{RouterID: p.t.r.id, TransportID: p.t.id, ProducerID: p.id})
	})
}
