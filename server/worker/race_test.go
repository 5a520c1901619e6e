//go:build race

package worker

// raceEnabled: the race detector is on. It makes sync.Pool drop items at
// random, so code that recycles buffers through a pool (pion/srtp's
// contexts) allocates now and then under it, never without it.
const raceEnabled = true
