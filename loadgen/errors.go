package loadgen

import "errors"

// errImpairedTransport: the impairment acts on the peers' UDP sockets only.
var errImpairedTransport = errors.New("loss, burst_loss, jitter and reorder act on the peers' own UDP sockets: use them with transport udp or none")
