package worker

import (
	"encoding/binary"
	"errors"
)

// RED (RFC 2198) carries, beside each Opus frame, copies of the frames
// before it, so that a listener who lost a packet finds its frame in the
// next one. libwebrtc sends it when `red/48000/2` (fmtp `111/111`: its
// blocks are Opus) is the first codec it negotiated; the worker offers it
// first (api.go) and forwards it as it came to listeners that negotiated it,
// and only the primary block, as plain Opus, to those that did not
// (consumer.queueSRTP).
//
// A plain-Opus publisher is forwarded as it came, never wrapped into RED
// here (as LiveKit's active_red_encoding option does). Why: browsers publish
// RED themselves once it is offered first (e2e: Chromium's packets carry
// 130-160 bytes with RED, 50-70 without), so wrapping would only serve
// clients that chose plain Opus; it would cost a per-producer history of
// frames and a second copy of each frame per RED listener, and it cannot
// protect the publisher's own hop, half of the path that loses packets.
//
// The payload (RFC 2198 §3) starts with one header per block, the primary
// last:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|1|   block PT  |  timestamp offset         |   block length    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|0|   block PT  |  (the primary's: its length is what remains)
//	+-+-+-+-+-+-+-+-+
//
// then the blocks' data in the same order. The RTP header's timestamp and
// marker are the primary's, so stripping to the primary keeps the header.

// redPayloadType is RED's payload type in the worker's offers, Chromium's
// own number for it; pipes carry RED under it whatever the publisher's was.
const redPayloadType = 63

// maxREDBlocks bounds the blocks of one RED packet. libwebrtc sends one or
// two redundant blocks besides the primary; more is taken as malformed, so
// that rewriting a packet's block headers for each listener stays cheap.
const maxREDBlocks = 8

// Errors of parseRED: each is a packet the worker drops and counts.
var (
	errREDEmpty     = errors.New("red: empty payload (no primary block)")
	errREDHeaders   = errors.New("red: block headers run past the payload")
	errREDBlocks    = errors.New("red: more blocks than the worker takes")
	errREDLengths   = errors.New("red: block lengths run past the payload")
	errREDNoPrimary = errors.New("red: the primary block is empty")
)

// redPacket is where a RED payload's blocks lie, worked out once per packet
// by the producer and used for each of its listeners.
type redPacket struct {
	blocks     int // headers, the primary's included
	primaryOff int // the primary's data, from the payload's start
	primaryLen int
}

// parseRED checks payload as RFC 2198 RED and says where its primary block
// is. It reads nothing outside payload, allocates nothing, and refuses a
// payload whose headers or block lengths do not fit, that has more than
// maxREDBlocks blocks, or whose primary block is missing or empty.
func parseRED(payload []byte) (redPacket, error) {
	var p redPacket
	off, redundant := 0, 0
	for {
		if off >= len(payload) {
			if off == 0 {
				return p, errREDEmpty
			}
			return p, errREDHeaders
		}
		p.blocks++
		if p.blocks > maxREDBlocks {
			return p, errREDBlocks
		}
		if payload[off]&0x80 == 0 { // the primary's header: the last
			off++
			break
		}
		if off+4 > len(payload) {
			return p, errREDHeaders
		}
		redundant += int(binary.BigEndian.Uint16(payload[off+2:off+4]) & 0x3ff)
		off += 4
	}
	if off+redundant > len(payload) {
		return p, errREDLengths
	}
	p.primaryOff = off + redundant
	p.primaryLen = len(payload) - p.primaryOff
	if p.primaryLen == 0 {
		return p, errREDNoPrimary
	}
	return p, nil
}

// setREDBlockTypes rewrites the payload type of every block header of a
// payload that parseRED took (blocks headers) to pt: a listener decodes the
// blocks with its own number for Opus, which may not be the publisher's.
func setREDBlockTypes(payload []byte, blocks int, pt uint8) {
	off := 0
	for range blocks {
		payload[off] = payload[off]&0x80 | pt&0x7f
		off += 4
	}
}
