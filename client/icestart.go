package client

import (
	"context"
	"time"

	"github.com/pion/webrtc/v4"
)

// iceStartLimit bounds how long an answer to a renegotiation waits for the ICE
// transport to start (see awaitICEStart); after it the answer goes ahead.
const iceStartLimit = 5 * time.Second

// awaitICEStart waits until pc's ICE transport has started, that is until its
// agent holds the remote ICE credentials, and reports whether it did before
// ctx ended or limit passed.
//
// Why: pion starts the transport of the first negotiation in the background,
// and when a renegotiation's offer is applied before then, the agent has no
// remote credentials to compare with the offer's and pion takes the offer for
// an ICE restart (RFC 8839 §4.4.1.1.1): new local credentials, the remote
// candidates dropped and its own gathered again. The server, which restarted
// nothing, then drops the candidates it gets with the other credentials
// ("dropping candidate with ufrag ... because it doesn't match the current
// ufrags"), the new ones too when they overtake the new answer, and the
// connection rests on what each side still learns from the other's checks.
// The worker sends a second offer as soon as a publisher's first answer lands:
// about one join in a hundred restarted in make bench, and 17 of 40 pairs in a
// test that renegotiates right after the first answer.
func awaitICEStart(ctx context.Context, pc *webrtc.PeerConnection, limit time.Duration) bool {
	ice := pc.SCTP().Transport().ICETransport()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	pause := 100 * time.Microsecond
	for {
		if p, err := ice.GetRemoteParameters(); err == nil && p.UsernameFragment != "" {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Millisecond)
	}
}
