package control

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

func TestThreePeersHearEachOther(t *testing.T) {
	h := startHarness(t, testConfig(1))
	a := h.connect("r1", "alice", true)
	b := h.connect("r1", "bob", true)
	c := h.connect("r1", "carol", true)
	all := []*client.Client{a, b, c}
	hearsAll(t, all, 25)

	l := h.load(0)
	require.Equal(t, 1, l.Routers)
	require.Equal(t, 3, l.Producers)
	require.Equal(t, 6, l.Consumers)

	// Carol leaves: her producer disappears everywhere.
	carol := c.PeerID()
	c.Close()
	for _, x := range []*client.Client{a, b} {
		waitEvent(t, x, func(m *wire.ProducerEvent) bool { return m.Type == wire.TypeProducerRemoved && m.PeerID == carol })
		waitEvent(t, x, func(m *wire.PeerLeft) bool { return m.PeerID == carol })
	}
	require.Eventually(t, func() bool {
		l := h.load(0)
		return l.Producers == 2 && l.Consumers == 2 && l.Transports == 2
	}, 5*time.Second, 50*time.Millisecond)
	before := quietFrom(t, a, carol)
	require.Never(t, func() bool { return a.Received(carol) != before }, 300*time.Millisecond, 20*time.Millisecond, "audio from a peer that left still arrives")
	hearsAll(t, []*client.Client{a, b}, before/2+50)

	// Everyone leaves: the router goes away.
	a.Close()
	b.Close()
	require.Eventually(t, func() bool {
		l := h.load(0)
		return l.Routers == 0 && l.Transports == 0 && l.Producers == 0
	}, 5*time.Second, 50*time.Millisecond)
}

func TestBadInputGetsErrorCodes(t *testing.T) {
	h := startHarness(t, testConfig(1))
	a := h.connect("r", "a", true)
	b := h.connect("r", "b", true)
	hearsAll(t, []*client.Client{a, b}, 10)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	refused := func(token string) *client.HTTPError {
		_, err := client.Connect(ctx, client.Config{URL: h.url, Token: token, LoopbackOnly: true})
		var he *client.HTTPError
		require.True(t, errors.As(err, &he), "want an HTTP refusal, got %v", err)
		require.Equal(t, http.StatusUnauthorized, he.Status)
		return he
	}
	require.Equal(t, wire.CodeUnauthorized, refused("").Body.Code)
	require.Equal(t, wire.CodeUnauthorized, refused("garbage").Body.Code)
	require.Equal(t, wire.CodeUnauthorized, refused(h.token("r", "x", true, time.Hour)+"x").Body.Code)
	require.Equal(t, wire.CodeTokenExpired, refused(h.token("r", "x", true, -time.Hour)).Body.Code)
	require.Equal(t, wire.CodeUnauthorized, refused(h.token("r", strings.Repeat("x", 10<<10), true, time.Hour)).Body.Code,
		"a signed 10 KB identity is refused")
	for _, tok := range []string{"garbage", h.token("r", "x", true, time.Hour) + "x"} {
		msg := strings.ToLower(refused(tok).Body.Message)
		for _, internal := range []string{"jwt", "malformed: token", "signature is invalid", "illegal base64"} {
			require.NotContains(t, msg, internal, "the JWT parser's own words stay out of the answer")
		}
	}

	x := h.connect("r", "mallory", false)
	send := func(raw string) {
		require.NoError(t, x.SendRaw([]byte(raw)))
	}
	expectErr := func(code wire.Code) {
		waitEvent(t, x, func(m *wire.Error) bool {
			require.Equal(t, code, m.Code, m.Message)
			return true
		})
	}
	send(`{"type":"answer",`)
	expectErr(wire.CodeBadRequest)
	send(`{"type":"teleport"}`)
	expectErr(wire.CodeUnknownType)
	send(`{"type":"answer","sdp":"v=0\r\nthis is not sdp"}`)
	expectErr(wire.CodeBadSDP)
	send(`{"type":"candidate","candidate":{"candidate":"candidate:bogus","sdpMid":"0"}}`)
	expectErr(wire.CodeBadCandidate)
	// Candidates the server does not use are refused with a reason, not
	// dropped in silence.
	for _, c := range []string{
		`{"candidate":"candidate:1 1 tcp 1 127.0.0.1 9 typ host tcptype active","sdpMid":"0"}`,
		`{"candidate":"candidate:1 1 udp 1 abcd.local 5000 typ host","sdpMid":"0"}`,
		`{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMLineIndex":7}`,
		`{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"nine"}`,
	} {
		send(`{"type":"candidate","candidate":` + c + `}`)
		expectErr(wire.CodeBadCandidate)
	}
	send(`{"type":"mute","muted":true}`)
	expectErr(wire.CodePublishNotAllowed)
	send(`{"type":"mute"}`)
	expectErr(wire.CodeBadRequest) // not an unmute
	send(`{"type":"join"}`)
	expectErr(wire.CodeAlreadyJoined)
	send(`{"type":"ping","id":"p1"}`)
	waitEvent(t, x, func(m *wire.Envelope) bool { return m.Type == wire.TypePong && m.ID == "p1" })

	send(`{"type":"ping","pad":"` + strings.Repeat("x", 70<<10) + `"}`)
	e := waitEvent(t, x, func(m *wire.Error) bool { return true })
	require.Equal(t, wire.CodeMessageTooLarge, e.Code)
	require.True(t, e.Fatal)
	select {
	case <-x.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed after an oversized message")
	}

	// A text frame that is not UTF-8 fails the connection (RFC 6455 §8.1).
	y := h.connect("r", "yves", false)
	require.NoError(t, y.SendRaw([]byte("{\"type\":\"ping\",\"id\":\"\xff\xfe\"}")))
	bad := waitEvent(t, y, func(m *wire.Error) bool { return true })
	require.Equal(t, wire.CodeBadRequest, bad.Code)
	require.True(t, bad.Fatal)
	select {
	case <-y.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed after invalid UTF-8")
	}

	// The others were served throughout.
	na, nb := a.Received(b.PeerID()), b.Received(a.PeerID())
	hearsAll(t, []*client.Client{a, b}, max(na, nb)+25)
}

func TestMuteStopsForwarding(t *testing.T) {
	h := startHarness(t, testConfig(1))
	a := h.connect("m", "a", true)
	b := h.connect("m", "b", true)
	hearsAll(t, []*client.Client{a, b}, 10)
	require.NoError(t, a.Send(wire.Mute{Envelope: wire.Envelope{Type: wire.TypeMute}, Muted: true}))
	waitEvent(t, b, func(m *wire.PeerMuted) bool { return m.PeerID == a.PeerID() && m.Muted })
	n := quietFrom(t, b, a.PeerID())
	require.Never(t, func() bool { return b.Received(a.PeerID()) > n+1 }, 400*time.Millisecond, 20*time.Millisecond, "muted audio still forwarded")
	require.NoError(t, a.Send(wire.Mute{Envelope: wire.Envelope{Type: wire.TypeMute}, Muted: false}))
	require.Eventually(t, func() bool { return b.Received(a.PeerID()) > n+10 }, 5*time.Second, 50*time.Millisecond)
}

func TestActiveSpeaker(t *testing.T) {
	h := startHarness(t, testConfig(1))
	loud := h.connect("s", "loud", true) // level 30 (-30 dBov)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token("s", "quiet", true, time.Hour), Publish: true, Level: 120, LoopbackOnly: true})
	require.NoError(t, err)
	t.Cleanup(quiet.Close)
	ev := waitEvent(t, quiet, func(m *wire.ActiveSpeakers) bool { return len(m.Speakers) > 0 })
	require.Len(t, ev.Speakers, 1)
	require.Equal(t, loud.PeerID(), ev.Speakers[0].PeerID)
	require.Equal(t, 127-30, ev.Speakers[0].Level)
}

func TestWorkerKilledPeersReconnect(t *testing.T) {
	h := startHarness(t, testConfig(1))
	a := h.connect("k", "a", true)
	b := h.connect("k", "b", true)
	hearsAll(t, []*client.Client{a, b}, 10)
	pid := h.c.Workers()[0].PID
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	restarted(t, h, pid, a, b)
	a2 := h.connect("k", "a", true)
	b2 := h.connect("k", "b", true)
	hearsAll(t, []*client.Client{a2, b2}, 25)
}
