package worker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// pathEvents is control's side of the IPC channel in a test: it passes the
// worker's path events on.
type pathEvents chan ipc.TransportPath

func (pathEvents) HandleRequest(context.Context, string, json.RawMessage) (any, error) {
	return nil, errors.New("not control")
}

func (c pathEvents) HandleEvent(method string, params json.RawMessage) {
	var e ipc.TransportPath
	if method == ipc.EventTransportPath && json.Unmarshal(params, &e) == nil {
		c <- e
	}
}

// watchPaths connects w to a test control that collects its path events.
func watchPaths(t *testing.T, w *Worker) pathEvents {
	events := make(pathEvents, 64)
	attachControl(t, w, events)
	return events
}

// attachControl connects w's events to a test control that hands them to h,
// until the test ends (w closes first, so none is sent after).
func attachControl(t *testing.T, w *Worker, h ipc.Handler) {
	fromWorker, toControl := io.Pipe()
	control := ipc.New(fromWorker, io.Discard, h, w.log).Start()
	w.conn = ipc.New(strings.NewReader(""), toControl, w, w.log)
	t.Cleanup(func() {
		w.closeAll()
		_ = toControl.Close()
		<-control.Done()
	})
}

func (c pathEvents) next(t *testing.T) ipc.TransportPath {
	t.Helper()
	select {
	case e := <-c:
		return e
	case <-time.After(5 * time.Second):
		require.Fail(t, "no path event")
	}
	return ipc.TransportPath{}
}

// clientAddr is the address of the client's side of tr's selected pair.
func clientAddr(t *testing.T, pc *webrtc.PeerConnection) string {
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	require.NoError(t, err)
	return netip.AddrPortFrom(netip.MustParseAddr(pair.Local.Address), pair.Local.Port).String()
}

// TestPathIsReportedOnConnectAndOnEachMove: control hears each transport's
// path once it connects (udp, tcp, with the peer's address) and again when
// ICE moves it (a restart from a new address), once per path.
func TestPathIsReportedOnConnectAndOnEachMove(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorkerWith(t, ipc.InitParams{Port: 46680, TCPPort: 46680, Loopback: true})
	events := watchPaths(t, w)

	moving := newMovingMux(t)
	l := connectListener(t, w, "U", moving.tune)
	e := events.next(t)
	require.Equal(t, ipc.TransportPath{TransportID: "U", Path: ipc.PathUDP, Remote: clientAddr(t, l.pc)}, e)
	require.True(t, strings.HasPrefix(e.Remote, "127.0.0.1:"))

	tcp := connectListener(t, w, "T", tcpOnly)
	e = events.next(t)
	require.Equal(t, "T", e.TransportID)
	require.Equal(t, ipc.PathTCP, e.Path)
	pair, err := tcp.t.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	require.NoError(t, err)
	require.Equal(t, net.JoinHostPort(pair.Remote.Address, itoa(pair.Remote.Port)), e.Remote)

	moving.move()
	require.NoError(t, l.t.restartICE())
	l.answer(t)
	e = events.next(t)
	require.Equal(t, ipc.TransportPath{TransportID: "U", Path: ipc.PathUDP, Remote: clientAddr(t, l.pc)}, e)
	require.True(t, strings.HasPrefix(e.Remote, "127.0.0.2:"), "the new address")
	select {
	case e := <-events:
		require.Fail(t, "a path reported twice", "%+v", e)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestPathOfARelayedPeer: a pair whose remote candidate is a TURN relayed
// address is a relay, also when pion learnt it from the peer's checks
// (peer-reflexive) and the peer signalled it as relayed.
func TestPathOfARelayedPeer(t *testing.T) {
	pair := func(local webrtc.ICEProtocol, remote webrtc.ICECandidateType) *webrtc.ICECandidatePair {
		return &webrtc.ICECandidatePair{
			Local:  &webrtc.ICECandidate{Protocol: local, Typ: webrtc.ICECandidateTypeHost, Address: "127.0.0.1", Port: 50000},
			Remote: &webrtc.ICECandidate{Protocol: webrtc.ICEProtocolUDP, Typ: remote, Address: "127.0.0.7", Port: 3478},
		}
	}
	require.Equal(t, ipc.PathUDP, pathOf(pair(webrtc.ICEProtocolUDP, webrtc.ICECandidateTypeHost), nil))
	require.Equal(t, ipc.PathTCP, pathOf(pair(webrtc.ICEProtocolTCP, webrtc.ICECandidateTypePrflx), nil))
	require.Equal(t, ipc.PathRelay, pathOf(pair(webrtc.ICEProtocolUDP, webrtc.ICECandidateTypeRelay), nil))
	relays := map[netip.AddrPort]bool{netip.MustParseAddrPort("127.0.0.7:3478"): true}
	require.Equal(t, ipc.PathRelay, pathOf(pair(webrtc.ICEProtocolUDP, webrtc.ICECandidateTypePrflx), relays))

	answer := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n" +
		"a=candidate:2 1 udp 16777215 127.0.0.7 3478 typ relay raddr 0.0.0.0 rport 0\r\n"
	var found []netip.AddrPort
	for _, c := range candidatesIn(answer) {
		if a, ok := relayOf(c); ok {
			found = append(found, a)
		}
	}
	require.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.7:3478")}, found, "the answer's relayed candidate, not its host one")
	_, ok := relayOf("candidate:2 1 udp 16777215 127.0.0.7 3478 typ srflx raddr 0.0.0.0 rport 0")
	require.False(t, ok)
}

func itoa(port uint16) string { return strconv.Itoa(int(port)) }
