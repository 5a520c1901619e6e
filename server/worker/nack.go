package worker

import (
	"encoding/binary"
	"strings"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Generic NACK (RFC 4585 §6.2.1) on audio: a receiver names the RTP packets
// it lost by sequence number, and the sender sends them again. The worker
// does it on both sides of itself: it answers its listeners' NACKs from each
// producer's packetHistory (retransmit.go), and asks publishers for what
// it missed (nackout.go).
//
// Retransmission is on the stream's own SSRC, not RTX (RFC 4588): libwebrtc
// negotiates no RTX for audio, and its audio receiver (NetEq's NACK tracker)
// takes the packet back on the original SSRC. SRTP stays sound: the worker
// re-sends the bytes it sent under that index, and the same index sealed
// again over the same packet is the same ciphertext (RFC 3711 §9.1 forbids a
// key stream reused for different content, not the same packet twice).

// nackFeedback is the a=rtcp-fb value the worker offers on audio.
var nackFeedback = webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBNACK}

// withNACK is c offering generic NACK when on.
func withNACK(c webrtc.RTPCodecCapability, on bool) webrtc.RTPCodecCapability {
	if on {
		c.RTCPFeedback = append(c.RTCPFeedback[:len(c.RTCPFeedback):len(c.RTCPFeedback)], nackFeedback)
	}
	return c
}

// answerHasNACK reports whether an answer accepts generic NACK on audio
// (RFC 4585 §4.2: a=rtcp-fb:<pt or *> nack, with no parameter, which would
// make it another kind such as nack pli). An answer keeps only the feedback
// it accepts of what was offered, so this is the transport's agreement.
func answerHasNACK(answer string) bool {
	var d sdp.SessionDescription
	if d.UnmarshalString(answer) != nil {
		return false
	}
	for _, md := range d.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		for _, a := range md.Attributes {
			if a.Key != "rtcp-fb" {
				continue
			}
			if f := strings.Fields(a.Value); len(f) == 2 && f[1] == webrtc.TypeRTCPFBNACK {
				return true
			}
		}
	}
	return false
}

// maxPairSeqs is how many packets one NACK pair names: its PID and the 16
// after it in BLP.
const maxPairSeqs = 17

// pairSeqs writes the sequence numbers pair names into out and returns how
// many (RFC 4585 §6.2.1: PID, then PID+i+1 for each bit i set in BLP). Unlike
// rtcp.NackPair.PacketList it allocates nothing.
func pairSeqs(pair rtcp.NackPair, out *[maxPairSeqs]uint16) int {
	out[0] = pair.PacketID
	n := 1
	for i := range 16 {
		if pair.LostPackets&(1<<i) != 0 {
			out[n] = pair.PacketID + uint16(i) + 1
			n++
		}
	}
	return n
}

// nackHeaderLen is a transport-layer feedback packet without its FCI.
const nackHeaderLen = 12

// appendNACK appends a generic NACK from sender about media's packets seqs to
// b. seqs are in sending order (each later than the one before, modulo 2^16),
// and one pair covers every packet within 16 of its first.
func appendNACK(b []byte, sender, media uint32, seqs []uint16) []byte {
	if len(seqs) == 0 {
		return b
	}
	start := len(b)
	b = append(b, 0x80|rtcp.FormatTLN, byte(rtcp.TypeTransportSpecificFeedback), 0, 0)
	b = binary.BigEndian.AppendUint32(b, sender)
	b = binary.BigEndian.AppendUint32(b, media)
	for i := 0; i < len(seqs); {
		pid, blp := seqs[i], uint16(0)
		for i++; i < len(seqs); i++ {
			d := seqs[i] - pid
			if d == 0 || d > 16 {
				break
			}
			blp |= 1 << (d - 1)
		}
		b = binary.BigEndian.AppendUint16(b, pid)
		b = binary.BigEndian.AppendUint16(b, blp)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16((len(b)-start)/4-1))
	return b
}
