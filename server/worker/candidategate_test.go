package worker

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// negotiationEvents is control's side of the IPC channel in a test: it keeps
// the worker's offers and candidates in the order they came.
type negotiationEvents struct {
	mu     sync.Mutex
	events []negotiationEvent
}

type negotiationEvent struct {
	offer     bool
	ufrag     string // the offer's, or the candidate's
	candidate string
}

var (
	offerUfrag     = regexp.MustCompile(`a=ice-ufrag:(\S+)`)
	candidateUfrag = regexp.MustCompile(` ufrag (\S+)`)
)

func (*negotiationEvents) HandleRequest(context.Context, string, json.RawMessage) (any, error) {
	return nil, errors.New("not control")
}

func (n *negotiationEvents) HandleEvent(method string, params json.RawMessage) {
	var e negotiationEvent
	switch method {
	case ipc.EventOffer:
		var sdp ipc.SDP
		if json.Unmarshal(params, &sdp) != nil {
			return
		}
		e.offer = true
		if m := offerUfrag.FindStringSubmatch(sdp.SDP); m != nil {
			e.ufrag = m[1]
		}
	case ipc.EventCandidate:
		var c ipc.Candidate
		if json.Unmarshal(params, &c) != nil {
			return
		}
		e.candidate = c.Candidate.Candidate
		if m := candidateUfrag.FindStringSubmatch(e.candidate); m != nil {
			e.ufrag = m[1]
		}
	default:
		return
	}
	n.mu.Lock()
	n.events = append(n.events, e)
	n.mu.Unlock()
}

func (n *negotiationEvents) snapshot() []negotiationEvent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]negotiationEvent(nil), n.events...)
}

// candidatesAfter counts the candidates that came after the offer with ufrag.
func candidatesAfter(events []negotiationEvent, ufrag string) int {
	seen, n := false, 0
	for _, e := range events {
		if e.offer {
			seen = e.ufrag == ufrag
		} else if seen && e.ufrag == ufrag {
			n++
		}
	}
	return n
}

// A worker's candidates reach control after the offer whose ICE credentials
// they carry, on the first offer and on an ICE restart's, however long the
// offer takes to go out after pion starts gathering (here 100 ms): a client
// can add no candidate before its description, so one sent first was lost.
func TestCandidatesFollowTheirOffer(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorkerWith(t, ipc.InitParams{Port: 46760, TCPPort: 46760, Loopback: true})
	events := &negotiationEvents{}
	attachControl(t, w, events)
	w.afterSetLocal = func() { time.Sleep(100 * time.Millisecond) }

	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T"}))
	require.NoError(t, w.createConsumer(ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}))
	tr := w.transports["T"]
	waitGathered(t, tr)
	first := iceUfragOfOffer(t, tr)
	// UDP and TCP: both of the worker's candidates, after the offer.
	require.Eventually(t, func() bool { return candidatesAfter(events.snapshot(), first) >= 2 }, 5*time.Second, 10*time.Millisecond,
		"the first offer's candidates: %+v", events.snapshot())

	l := &testListener{t: tr, c: tr.consumers["P"], pc: newTestClient(t, nil)}
	l.answer(t)
	require.NoError(t, tr.restartICE())
	waitGathered(t, tr)
	second := iceUfragOfOffer(t, tr)
	require.NotEqual(t, first, second)
	require.Eventually(t, func() bool { return candidatesAfter(events.snapshot(), second) >= 2 }, 5*time.Second, 10*time.Millisecond,
		"the restart's candidates: %+v", events.snapshot())

	got := events.snapshot()
	require.True(t, got[0].offer, "the offer comes first: %+v", got)
	var current string
	for _, e := range got {
		if e.offer {
			current = e.ufrag
			continue
		}
		require.NotEmpty(t, e.ufrag, "a candidate names its ufrag: %s", e.candidate)
		if e.ufrag != current {
			// Only a late candidate of an older offer may trail a newer one
			// (the client drops it as of another generation); none may lead.
			require.Equal(t, first, e.ufrag, "a candidate of an offer not sent yet: %+v", got)
			require.Equal(t, second, current)
		}
	}
}
