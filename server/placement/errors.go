package placement

import "errors"

// ErrNoCapacity: no candidate worker can take the peer without going over
// capacity somewhere.
var ErrNoCapacity = errors.New("no worker can take this peer")
