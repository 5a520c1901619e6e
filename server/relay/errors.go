package relay

import (
	"errors"

	"github.com/voicectl/voicectl/server/wire"
)

// CodeWorkerDown is the bus code for a worker that is not running. It
// stays on the bus between servers: the owner turns it back into
// ipc.ErrWorkerDown (Caller.Call).
const CodeWorkerDown wire.Code = "worker_down"

// errOtherServer: a server answered a relay request with a router of
// another server's worker.
var errOtherServer = errors.New("relay answered for another server")
