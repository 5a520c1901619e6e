package loadgen

import "github.com/voicectl/voicectl/client"

// A listener that negotiated RED (RFC 2198) recovers a lost packet's frame
// from the redundant block of the next one, as Chromium's jitter buffer
// does. The tap counts packets from their clear headers without decrypting
// them; after a gap it lets the next redWindow packets through to pion, so
// their blocks (encrypted with the payload) can be read (client.REDBlock).
const redWindow = 2

// redState is a stream's watch for gaps, under the stream's mu.
type redState struct {
	started bool
	high    uint16
	want    int
}

// redKeep reports whether the packet seq should be decrypted for its
// redundant blocks: it follows a gap closely.
func (s *stream) redKeep(seq uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.red
	if !r.started {
		r.started, r.high = true, seq
		return false
	}
	if d := int16(seq - r.high); d > 0 {
		if d > 1 {
			r.want = redWindow
		}
		r.high = seq
	}
	if r.want > 0 {
		r.want--
		return true
	}
	return false
}

// recover marks the frames of blocks, carried by packet seq, as arrived
// where their own packets did not (a 20 ms frame is 960 clock units back),
// stops asking for them, and says how many it recovered.
func (s *stream) recover(seq uint16, blocks []client.REDBlock) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range blocks {
		if b.TimestampOffset == 0 || b.TimestampOffset%960 != 0 || len(b.Data) == 0 {
			continue
		}
		m := seq - b.TimestampOffset/960
		if s.seen.has(m) {
			continue
		}
		s.seen.set(m)
		delete(s.nack.pending, m)
		n++
	}
	return n
}

// onRedundancy is the client's OnRedundancy.
func (p *peer) onRedundancy(_ string, ssrc uint32, seq uint16, blocks []client.REDBlock) {
	if n := p.stream(ssrc).recover(seq, blocks); n > 0 {
		p.redRecovered.Add(uint64(n))
	}
}

// reds reports whether the peer's answer kept RED.
func (p *peer) reds() bool { return p.redKept.kept(p.client(), (*client.Client).REDNegotiated) }
