package worker

import "math"

// Connection quality: a score 0-100 and a level for each peer, from the loss,
// jitter and round-trip time the worker already measures (see
// qualitysample.go). The model is a simplified E-model (ITU-T G.107), as
// LiveKit scores its participants and as Twilio's and callstats' MOS
// estimates do:
//
//	d = RTT/2 + 2·jitter + 10 ms                 effective one-way delay
//	R = 93.2 − d/40                  (d < 160 ms)
//	R = 93.2 − (d − 120)/10          (d ≥ 160 ms)
//	R = R − 2.5·loss%                            equipment impairment of lost packets
//	MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)   (G.107 Annex B, R clamped to 0..100)
//	score = 100·(MOS − 1)/3.5, rounded           (MOS 1 → 0, MOS 4.5 → 100)
//
// 93.2 is G.107's default R with no impairment; the delay term doubles the
// jitter because a jitter buffer holds about twice the jitter, and the 10 ms
// stand for the codec's frame. A clean call on a LAN scores 97.
//
// The levels are cut on MOS: excellent from 4.1 (toll quality; R ≈ 82,
// up to about 4 % loss on a short path, which Opus's concealment hides),
// good from 3.8 (R ≈ 75: G.109 puts "many users dissatisfied" below R 70;
// up to about 7 % loss), poor below that: 10 % loss is MOS 3.5, which
// LiveKit too calls poor. Lost is not a score: nothing arrived from the
// peer for qualityLostAfter.
//
// https://www.itu.int/rec/T-REC-G.107 , https://www.itu.int/rec/T-REC-G.109
type qualityLevel string

// The levels, best first (ipc.TransportQuality.Level, wire.PeerQuality.Level).
const (
	qualityExcellent qualityLevel = "excellent"
	qualityGood      qualityLevel = "good"
	qualityPoor      qualityLevel = "poor"
	qualityLost      qualityLevel = "lost"
)

// The MOS thresholds of the levels (see qualityLevel).
const (
	mosExcellent = 4.1
	mosGood      = 3.8
)

// qualityInput is what one interval measured of a peer's connection.
type qualityInput struct {
	loss     float64 // fraction of packets lost, 0..1
	jitterMs float64
	rttMs    float64
}

// rFactor is the simplified E-model's transmission rating (see qualityLevel).
func rFactor(in qualityInput) float64 {
	d := in.rttMs/2 + 2*in.jitterMs + 10
	r := 93.2 - d/40
	if d >= 160 {
		r = 93.2 - (d-120)/10
	}
	r -= 2.5 * 100 * min(max(in.loss, 0), 1)
	return min(max(r, 0), 100)
}

// mos maps an R factor to a mean opinion score, 1..4.5 (G.107 Annex B).
func mos(r float64) float64 {
	if r <= 0 {
		return 1
	}
	return min(1+0.035*r+7e-6*r*(r-60)*(100-r), 4.5)
}

// qualityOf is the score (0-100) and level of in.
func qualityOf(in qualityInput) (int, qualityLevel) {
	m := mos(rFactor(in))
	score := int(math.Round(100 * (m - 1) / 3.5))
	switch {
	case m >= mosExcellent:
		return score, qualityExcellent
	case m >= mosGood:
		return score, qualityGood
	default:
		return score, qualityPoor
	}
}
