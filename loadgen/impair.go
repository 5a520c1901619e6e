package loadgen

import (
	"hash/fnv"
	"time"

	"github.com/voicectl/voicectl/client"
)

// Network is the bad network the synthetic peers' own sockets make of the
// path to the server (client.Impairment), the same for every peer: each of
// them impairs what it sends and what it receives, so a listener hears a
// publisher through two impaired hops.
type Network struct {
	// Loss drops each packet of each hop independently.
	Loss Ratio `yaml:"loss"`
	// BurstLoss is the mean loss of a Gilbert-Elliott channel per hop, in
	// bursts of BurstLength packets on average (client.Impairment).
	BurstLoss   Ratio   `yaml:"burst_loss"`
	BurstLength float64 `yaml:"burst_length"`
	// Jitter delays each packet by up to this much (uniform).
	Jitter time.Duration `yaml:"jitter"`
	// Reorder holds this share of packets back client.ReorderDelay.
	Reorder Ratio `yaml:"reorder"`
	// Seed makes the decisions reproducible: each peer's sockets draw from
	// generators seeded with it and the peer's name (lg-N-pub, lg-N-sub).
	Seed uint64 `yaml:"seed"`
}

// impairment is the client's Impairment for the peer named identity; nil
// when the network is clean.
func (n Network) impairment(identity string) *client.Impairment {
	m := &client.Impairment{Loss: float64(n.Loss), BurstLoss: float64(n.BurstLoss), BurstLength: n.BurstLength,
		Jitter: n.Jitter, Reorder: float64(n.Reorder)}
	if !m.Active() {
		return nil
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(identity))
	m.Seed = n.Seed ^ h.Sum64()
	return m
}

// Validate checks the network's ranges; it needs UDP: over TCP or TURN the
// media does not cross the peers' paced sockets.
func (n Network) Validate(t client.Transport) error {
	m := n.impairment("")
	if m == nil {
		return nil
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if t != "" && t != client.TransportUDP {
		return errImpairedTransport
	}
	return nil
}
