package worker

import "time"

// packetHistory is a producer's last forwarded packets, kept to answer
// listeners' NACKs (RFC 4585 §6.2.1) with the very bytes they missed: a ring
// of fixed-size slots allocated once, indexed by sequence number, so that
// keeping a packet is one copy and finding one is one index, and neither
// allocates.
//
// It is sized in time: historySlots packets at 20 ms cover 640 ms, and a
// packet older than historyMaxAge is not re-sent even if its slot still holds
// it (a listener's jitter buffer has played past it by then; libwebrtc's
// NetEq asks only for packets it can still decode in time).
type packetHistory struct {
	slots []historySlot // historySlots, made on the first packet kept
}

// historySlots is a power of two: a sequence number's slot is its low bits,
// and 2^16 is a multiple of it, so the index stays right across the wrap.
const historySlots = 32

// historyMaxAge is how old a kept packet may be and still be re-sent.
const historyMaxAge = 500 * time.Millisecond

// historySlotSize holds any packet the worker's own write path takes (see
// sealableHeaderLen); larger ones are not kept.
const historySlotSize = maxSRTPPacket - 32

// historySlot is one kept packet: its bytes as they arrived (decrypted), when
// it was kept, and its sequence number, which says whether the slot still
// holds the packet a NACK asks for or a later one.
type historySlot struct {
	at  int64 // unix nanoseconds; 0: empty
	seq uint16
	n   uint16
	buf [historySlotSize]byte
}

// keep stores raw, the packet with sequence number seq, forwarded at now.
func (h *packetHistory) keep(raw []byte, seq uint16, now int64) {
	if h.slots == nil {
		h.slots = make([]historySlot, historySlots)
	}
	s := &h.slots[seq&(historySlots-1)]
	if len(raw) > historySlotSize {
		s.at = 0 // the slot's older packet must not answer for seq
		return
	}
	s.at, s.seq, s.n = now, seq, uint16(copy(s.buf[:], raw))
}

// lookup returns the kept packet with sequence number seq, nil when it was
// never kept, was overwritten by a later one, or is older than historyMaxAge
// at now. The bytes stay valid until the next keep of the same slot; the
// caller holds the producer's dispatchMu throughout.
func (h *packetHistory) lookup(seq uint16, now int64) []byte {
	if h.slots == nil {
		return nil
	}
	s := &h.slots[seq&(historySlots-1)]
	if s.at == 0 || s.seq != seq || now-s.at > int64(historyMaxAge) || now < s.at {
		return nil
	}
	return s.buf[:s.n]
}
