package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Impairment makes a client's own UDP socket behave like a bad network, so a
// load generator measures capacity and recovery on one without root or
// iptables. It acts on the media (SRTP and SRTCP, once the peer connection is
// up) in both directions of each socket: what the peer sends and what it
// receives. ICE and the DTLS handshake are spared, so joins are not slowed.
//
// One impaired hop drops a packet with probability about Loss + BurstLoss;
// a listener hears a publisher through two (the publisher's socket sending,
// its own receiving), so it loses about 1-(1-p)² of the stream, as it would
// behind the iptables statistic rule docs/scaling.md uses on the test
// namespace's loopback.
type Impairment struct {
	// Loss drops each packet independently with this probability (0..1).
	Loss float64
	// BurstLoss is the mean loss of a Gilbert-Elliott two-state channel
	// (Gilbert 1960, Elliott 1963; RFC 3611 §4.7.2's burst metrics count the
	// same bursts): every packet first moves the channel between a good state
	// that drops nothing and a bad state that drops everything, with
	// P(bad→good) = 1/BurstLength and P(good→bad) = BurstLoss·r/(1-BurstLoss),
	// so that it is bad BurstLoss of the time in bursts of BurstLength
	// packets on average (geometrically distributed).
	BurstLoss float64
	// BurstLength is the mean burst length in packets (>= 1; 0 is 3).
	BurstLength float64
	// Jitter delays each packet by a uniform random time in [0, Jitter]. Up
	// to the packet interval (20 ms for Opus) order is kept; above it,
	// packets overtake each other, as they do behind netem's jitter.
	Jitter time.Duration
	// Reorder holds a packet this probability back by ReorderDelay, so the
	// next packet or two overtake it.
	Reorder float64
	// Seed makes every decision reproducible: each socket of the client and
	// each direction draws from its own generator seeded with Seed, the
	// socket's number and the direction, so the same seed gives the same
	// sequence of drops and delays for the same sequence of packets.
	Seed uint64
}

// ReorderDelay is how long a reordered packet is held back: past the next
// two 20 ms Opus frames.
const ReorderDelay = 45 * time.Millisecond

// DefaultBurstLength is BurstLength when it is 0.
const DefaultBurstLength = 3

// ErrImpairment is a bad Impairment.
var ErrImpairment = errors.New("impairment")

// Active reports whether m changes anything.
func (m *Impairment) Active() bool {
	return m != nil && (m.Loss > 0 || m.BurstLoss > 0 || m.Jitter > 0 || m.Reorder > 0)
}

// Validate checks the ranges.
func (m Impairment) Validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", m.Loss}, {"burst loss", m.BurstLoss}, {"reorder", m.Reorder}} {
		if p.v < 0 || p.v >= 1 {
			errs = append(errs, fmt.Errorf("%w: %s %g is not a ratio in [0, 1)", ErrImpairment, p.name, p.v))
		}
	}
	if m.BurstLength != 0 && m.BurstLength < 1 {
		errs = append(errs, fmt.Errorf("%w: burst length %g is below one packet", ErrImpairment, m.BurstLength))
	}
	if m.Jitter < 0 || m.Jitter > 2*time.Second {
		errs = append(errs, fmt.Errorf("%w: jitter %s is not between 0 and 2s", ErrImpairment, m.Jitter))
	}
	return errors.Join(errs...)
}

// impairer decides the fate of the packets of one socket in one direction.
// Only the goroutine that sends (or reads) on that socket calls it.
type impairer struct {
	m   Impairment
	rng *rand.Rand
	// Gilbert-Elliott state and transition probabilities.
	bad          bool
	pGood, pBad  float64 // P(good→bad), P(bad→good)
	dropped      uint64
	delayed      uint64
	reordered    uint64
	packets      uint64
	burstRuns    uint64 // bad periods entered
	burstDropped uint64
}

// Directions of an impairer's seed.
const (
	dirSend    = 1
	dirReceive = 2
)

func newImpairer(m Impairment, socket, dir uint64) *impairer {
	im := &impairer{m: m, rng: rand.New(rand.NewPCG(m.Seed, socket<<8|dir))}
	if m.BurstLoss > 0 {
		n := m.BurstLength
		if n == 0 {
			n = DefaultBurstLength
		}
		im.pBad = 1 / n
		im.pGood = m.BurstLoss * im.pBad / (1 - m.BurstLoss)
	}
	return im
}

// next decides one packet: dropped, or delivered after delay (0: at once).
// It draws the same number of random values whatever the outcome, so one
// decision does not shift the ones after it.
func (im *impairer) next() (drop bool, delay time.Duration, reordered bool) {
	im.packets++
	uBurst, uLoss, uJitter, uReorder := im.rng.Float64(), im.rng.Float64(), im.rng.Float64(), im.rng.Float64()
	if im.pBad > 0 {
		switch {
		case im.bad && uBurst < im.pBad:
			im.bad = false
		case !im.bad && uBurst < im.pGood:
			im.bad = true
			im.burstRuns++
		}
	}
	if im.bad {
		im.burstDropped++
		im.dropped++
		return true, 0, false
	}
	if uLoss < im.m.Loss {
		im.dropped++
		return true, 0, false
	}
	if im.m.Jitter > 0 {
		delay = time.Duration(uJitter * float64(im.m.Jitter))
	}
	if uReorder < im.m.Reorder {
		im.reordered++
		delay += ReorderDelay
		reordered = true
	}
	if delay > 0 {
		im.delayed++
	}
	return false, delay, reordered
}
