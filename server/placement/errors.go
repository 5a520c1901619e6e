package placement

import "github.com/voicectl/voicectl/server/wire"

// ErrNoCapacity: no candidate worker can take the peer without going over
// capacity somewhere.
var ErrNoCapacity = wire.NewError(wire.CodeNoCapacity, "no worker can take this peer")
