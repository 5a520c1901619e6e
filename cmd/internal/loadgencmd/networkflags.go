package loadgencmd

import (
	"github.com/spf13/pflag"

	"github.com/voicectl/voicectl/loadgen"
)

// addNetworkFlags adds the impaired network's flags (loadgen.Network): the
// synthetic peers' own sockets drop, delay and reorder their media.
func addNetworkFlags(fl *pflag.FlagSet, n *loadgen.Network, nack, red *bool) {
	fl.BoolVar(red, "red", *red, "answer the server's offer of RED (RFC 2198) as Chromium does: publish RED, recover lost frames from the next packet's redundant block (--red=false refuses it)")
	fl.BoolVar(nack, "nack", *nack, "answer the server's offer of generic NACK (RFC 4585) as Chromium does: listeners ask for lost packets again, publishers answer (--nack=false refuses it)")
	fl.Var(&n.Loss, "loss", "drop this share of media packets at random, on each peer's socket both ways (5% or 0.05; a listener hears a publisher through two such hops)")
	fl.Var(&n.BurstLoss, "burst-loss", "drop this share of media packets in bursts (a Gilbert-Elliott channel per socket and direction), on top of --loss")
	fl.Float64Var(&n.BurstLength, "burst-length", 0, "mean length of a --burst-loss burst, in packets (0: 3)")
	fl.DurationVar(&n.Jitter, "jitter", 0, "delay each media packet by up to this much (uniform), both ways")
	fl.Var(&n.Reorder, "reorder", "hold this share of media packets back 45 ms, so the next two overtake them")
	fl.Uint64Var(&n.Seed, "seed", n.Seed, "seed of the impairment's decisions: the same seed drops the same packets of the same peers")
}

// networkFlagNames are the flags addNetworkFlags adds, to apply over a
// scenario file.
var networkFlagNames = []string{"loss", "burst-loss", "burst-length", "jitter", "reorder", "seed", "nack", "red"}

// applyNetworkFlags copies the network flags given over into.
func applyNetworkFlags(fl *pflag.FlagSet, from, into *loadgen.Scenario) {
	set := map[string]func(){
		"loss": func() { into.Network.Loss = from.Network.Loss }, "burst-loss": func() { into.Network.BurstLoss = from.Network.BurstLoss },
		"burst-length": func() { into.Network.BurstLength = from.Network.BurstLength }, "jitter": func() { into.Network.Jitter = from.Network.Jitter },
		"reorder": func() { into.Network.Reorder = from.Network.Reorder }, "seed": func() { into.Network.Seed = from.Network.Seed },
		"nack": func() { into.NACK = from.NACK }, "red": func() { into.RED = from.RED },
	}
	for _, name := range networkFlagNames {
		if fl.Changed(name) {
			set[name]()
		}
	}
}
