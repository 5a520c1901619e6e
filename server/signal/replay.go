package signal

// historySize and historyBytes bound the messages a session keeps for a
// client that may resume: those it may have missed when its socket dropped,
// and those sent while it is detached. They bound memory per peer, not
// time: a resume that needs a message no longer kept fails (resume_failed)
// and the client joins again.
const (
	historySize  = 128
	historyBytes = 512 << 10
)

// replay is a ring of the last numbered messages a session sent: seqs
// last-n+1 .. last, contiguous.
type replay struct {
	buf   [][]byte
	start int // index of the oldest
	n     int
	bytes int
	last  uint64
}

// add keeps msg, numbered seq (the next one); it returns the highest seq it
// dropped to stay in its bounds, 0 when none.
func (r *replay) add(seq uint64, msg []byte) (dropped uint64) {
	if r.buf == nil {
		r.buf = make([][]byte, historySize)
	}
	for r.n > 0 && (r.n == historySize || r.bytes+len(msg) > historyBytes) {
		r.bytes -= len(r.buf[r.start])
		r.buf[r.start] = nil
		r.start = (r.start + 1) % historySize
		r.n--
		dropped = r.last - uint64(r.n)
	}
	r.buf[(r.start+r.n)%historySize] = msg
	r.n++
	r.bytes += len(msg)
	r.last = seq
	return dropped
}

// after returns the messages numbered above seq, oldest first; false when
// some of them are no longer kept, or seq is ahead of what was sent.
func (r *replay) after(seq uint64) ([][]byte, bool) {
	if seq > r.last {
		return nil, false
	}
	missing := int(r.last - seq)
	if missing > r.n {
		return nil, false
	}
	out := make([][]byte, 0, missing)
	for i := r.n - missing; i < r.n; i++ {
		out = append(out, r.buf[(r.start+i)%historySize])
	}
	return out, true
}
