package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/ipc"
	"github.com/voicectl/voicectl/server/testenv"
)

// tcpOnly has a test client do ICE over TCP alone (active candidates).
func tcpOnly(se *webrtc.SettingEngine) {
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
}

// offeredCandidates parses the candidates of t's offer.
func offeredCandidates(t *testing.T, tr *transport) []ice.Candidate {
	var out []ice.Candidate
	for _, line := range strings.Split(tr.pc.LocalDescription().SDP, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=candidate:"); ok {
			c, err := ice.UnmarshalCandidate(v)
			require.NoError(t, err)
			if c.Component() == 1 { // pion repeats each for RTCP's component
				out = append(out, c)
			}
		}
	}
	return out
}

// TestTCPCandidateRanksBelowUDP: with a TCP port the worker offers a passive
// TCP host candidate (RFC 6544) on it beside its UDP one, with a lower
// priority so that a client that can use both picks UDP.
func TestTCPCandidateRanksBelowUDP(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorkerWith(t, ipc.InitParams{Port: 46620, TCPPort: 46621, Loopback: true})
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T"}))
	require.NoError(t, w.createConsumer(ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}))
	waitGathered(t, w.transports["T"])
	var udp, tcp []ice.Candidate
	for _, c := range offeredCandidates(t, w.transports["T"]) {
		if c.NetworkType().IsTCP() {
			tcp = append(tcp, c)
		} else {
			udp = append(udp, c)
		}
	}
	require.Len(t, udp, 1)
	require.Len(t, tcp, 1)
	require.Equal(t, 46620, udp[0].Port())
	require.Equal(t, 46621, tcp[0].Port())
	require.Equal(t, ice.TCPTypePassive, tcp[0].TCPType())
	require.Equal(t, ice.CandidateTypeHost, tcp[0].Type())
	require.Less(t, tcp[0].Priority(), udp[0].Priority(), "UDP first")

	// Without a TCP port, UDP alone, and a client's TCP candidate is refused.
	u, _ := testWorker(t, 46622)
	require.NoError(t, u.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T"}))
	require.NoError(t, u.createConsumer(ipc.ConsumerRef{TransportID: "T", ProducerID: "P"}))
	waitGathered(t, u.transports["T"])
	for _, c := range offeredCandidates(t, u.transports["T"]) {
		require.False(t, c.NetworkType().IsTCP())
	}
	active := "candidate:1 1 tcp 1 127.0.0.1 9 typ host tcptype active"
	require.Error(t, checkCandidate(active, false, false))
	require.NoError(t, checkCandidate(active, false, true))
}

// TestTCPPeersHearAndAreHeard: clients that can do ICE over TCP alone connect;
// one publishes, a UDP listener hears it; the worker forwards to another over
// TCP through pion's write path while UDP listeners keep the worker's own.
func TestTCPPeersHearAndAreHeard(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorkerWith(t, ipc.InitParams{Port: 46630, TCPPort: 46630, Loopback: true})

	// Heard: a publisher over TCP, a listener over UDP.
	pub, mic, _ := connectPublisher(t, w, "PUB", "M", tcpOnly)
	seq := uint16(0)
	require.Eventually(t, func() bool {
		seq++
		publish(t, mic, seq)
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.producers["M"] != nil
	}, 10*time.Second, 5*time.Millisecond, "the publisher connects over TCP")
	udpL := connectListenerTo(t, w, "U", "M", nil)
	require.True(t, udpL.t.route.Load().fast(), "a UDP listener keeps the worker's write path")
	require.Eventually(t, func() bool {
		seq++
		publish(t, mic, seq)
		return udpL.received.Load() >= 20
	}, 10*time.Second, 5*time.Millisecond, "a UDP listener hears a publisher on TCP")
	pair, err := pub.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	require.NoError(t, err)
	require.Equal(t, webrtc.ICEProtocolTCP, pair.Local.Protocol)
	require.False(t, pub.route.Load().fast(), "a TCP transport takes pion's path")

	// Hears: a listener over TCP, connected without pion's 1 s wait for a
	// peer-reflexive pair (every TCP pair is one).
	start := time.Now()
	tcpL := connectListener(t, w, "T", tcpOnly)
	t.Logf("a TCP listener connected in %s", time.Since(start))
	require.Less(t, time.Since(start), 900*time.Millisecond)
	pair, err = tcpL.t.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	require.NoError(t, err)
	require.Equal(t, webrtc.ICEProtocolTCP, pair.Local.Protocol)
	require.False(t, tcpL.t.route.Load().fast())
	sock, _ := tcpL.t.selectedPath()
	require.Nil(t, sock, "no UDP socket for a TCP pair")
	heard(t, pr, tcpL, 1, 20)
}

// stallingProxy relays one TCP connection to the worker's ICE-TCP port and
// can stop reading what the worker sends, as a listener behind a slow link,
// or read it and pass nothing on (drain), counting RFC 4571 frames, so that a
// benchmark sees the worker's cost alone.
type stallingProxy struct {
	l       net.Listener
	target  string
	stalled atomic.Bool
	drain   atomic.Bool
	frames  atomic.Int64 // drained
	resume  chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newStallingProxy(t testing.TB, target string) *stallingProxy {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallingProxy{l: l, target: target, resume: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.unstall()
		p.wg.Wait()
	})
	return p
}

// unstall reads again.
func (p *stallingProxy) unstall() {
	p.once.Do(func() { close(p.resume) })
	p.stalled.Store(false)
}

func (p *stallingProxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

func (p *stallingProxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp4", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(out, in)
		}()
		go func() {
			defer p.wg.Done()
			p.relay(out, in)
		}()
	}
}

// relay copies what the worker sends on out to the client on in, unless
// stalled or draining.
func (p *stallingProxy) relay(out, in net.Conn) {
	buf := make([]byte, 64<<10)
	var pending int // bytes left of the frame being drained
	var header []byte
	for {
		if p.stalled.Load() {
			<-p.resume
		}
		n, err := out.Read(buf)
		if err != nil {
			return
		}
		if !p.drain.Load() {
			if _, err := in.Write(buf[:n]); err != nil {
				return
			}
			continue
		}
		for b := buf[:n]; len(b) > 0; {
			if pending > 0 {
				k := min(pending, len(b))
				pending -= k
				b = b[k:]
				continue
			}
			header = append(header, b[0])
			b = b[1:]
			if len(header) == 2 {
				pending = int(header[0])<<8 | int(header[1])
				header = header[:0]
				p.frames.Add(1)
			}
		}
	}
}

// stallTolerant is tcpOnly for a client behind a stallingProxy: it hears
// nothing from the worker while the proxy is stalled, consent responses
// included (RFC 7675), and a stall on a loaded machine can outlast pion's
// 25 s failed timeout; a client that gave up would hear nothing after it,
// whatever the worker did, so it waits as long as the test may take.
func stallTolerant(se *webrtc.SettingEngine) {
	tcpOnly(se)
	se.SetICETimeouts(5*time.Second, 5*time.Minute, 2*time.Second)
}

// connectTCPListener connects a TCP-only test client as a listener of "P"
// through transport id, reaching the worker's TCP port through p.
func connectTCPListener(tb testing.TB, w *Worker, id string, p *stallingProxy) *testListener {
	tb.Helper()
	require.NoError(tb, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: id}))
	require.NoError(tb, w.createConsumer(ipc.ConsumerRef{TransportID: id, ProducerID: "P"}))
	tr := w.transports[id]
	waitGathered(tb, tr)
	l := &testListener{t: tr, c: tr.consumers["P"], pc: newTestClient(tb, stallTolerant)}
	l.pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			l.received.Add(1)
			l.last.Store(pkt)
		}
	})
	_, port, err := net.SplitHostPort(p.target)
	require.NoError(tb, err)
	offer := *tr.pc.LocalDescription()
	offer.SDP = strings.ReplaceAll(offer.SDP, " "+port+" typ host tcptype passive", " "+strconv.Itoa(p.port())+" typ host tcptype passive")
	require.NoError(tb, l.pc.SetRemoteDescription(offer))
	answer, err := l.pc.CreateAnswer(nil)
	require.NoError(tb, err)
	gathered := webrtc.GatheringCompletePromise(l.pc)
	require.NoError(tb, l.pc.SetLocalDescription(answer))
	<-gathered
	require.NoError(tb, tr.applyAnswer(l.pc.LocalDescription().SDP))
	require.Eventually(tb, func() bool { return tr.route.Load() != nil && l.c.bound.Load() }, 10*time.Second, 5*time.Millisecond,
		"the TCP listener connects through the proxy")
	return l
}

// TestAStalledTCPListenerDoesNotHoldUpForwarding: a TCP listener that stops
// reading fills its bounded queue, then loses packets; the fan-out that
// writes to it and to a UDP listener goes on, and the UDP listener hears
// everything.
func TestAStalledTCPListenerDoesNotHoldUpForwarding(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, pr := testWorkerWith(t, ipc.InitParams{Port: 46640, TCPPort: 46641, Loopback: true})
	proxy := newStallingProxy(t, "127.0.0.1:46641")

	// The TCP listener reaches the worker through the proxy: its offer names
	// the proxy's port.
	tcpL := connectTCPListener(t, w, "T", proxy)
	udpL := connectListener(t, w, "U", nil)
	heard(t, pr, tcpL, 1, 10)

	proxy.stalled.Store(true)
	// Far more than the kernel's socket buffers and the connection's queue.
	const n = 12000
	big := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 42}, Payload: bytes.Repeat([]byte{7}, 1200)}
	before := udpL.received.Load()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			big.SequenceNumber = uint16(100 + i)
			big.Timestamp = 960 * uint32(100+i)
			raw, _ := big.Marshal()
			pr.dispatch(raw, big)
			if i%20 == 0 {
				time.Sleep(time.Millisecond) // the UDP listener's socket keeps up
			}
		}
	}()
	stalledAt := time.Now()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("forwarding blocked on the stalled TCP listener")
	}
	t.Logf("%d packets forwarded past the stalled TCP listener in %s", n, time.Since(stalledAt).Round(time.Millisecond))
	require.Eventually(t, func() bool { return udpL.received.Load()-before >= n*9/10 }, 10*time.Second, 10*time.Millisecond,
		"the UDP listener hears on")

	// Reading again, the TCP listener gets what the kernel and its queue
	// held, not all: the rest was dropped whole, and the stream's framing
	// (RFC 4571) survived, so it hears what follows.
	tcpBefore := tcpL.received.Load()
	proxy.unstall()
	got := tcpL.received.Load()
	for stable := 0; stable < 20; time.Sleep(50 * time.Millisecond) {
		if now := tcpL.received.Load(); now != got {
			got, stable = now, 0
		} else {
			stable++
		}
	}
	t.Logf("the stalled TCP listener got %d of %d packets", got-tcpBefore, n)
	require.Less(t, got-tcpBefore, int64(n), "the stalled listener's queue dropped packets")
	heard(t, pr, tcpL, 20000, 10)
}

// TestATakenTCPPortLeavesTheWorkerOnUDP: a worker whose TCP port is taken
// says why and runs without TCP candidates; a worker that stops closes its
// TCP listener (the port is free again; goleak checks its goroutines).
func TestATakenTCPPortLeavesTheWorkerOnUDP(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	taken, err := net.Listen("tcp4", "127.0.0.1:46651")
	require.NoError(t, err)
	defer taken.Close()
	var logged syncBuffer
	w := &Worker{log: slog.New(slog.NewTextHandler(&logged, nil)), routers: map[string]*router{},
		transports: map[string]*transport{}, producers: map[string]*producer{}, pipes: map[string]*pipeTransport{}}
	_, err = w.init(ipc.InitParams{Port: 46650, TCPPort: 46651, Loopback: true})
	require.NoError(t, err, "the worker runs")
	defer w.closeAll()
	require.Nil(t, w.tcpMux)
	require.Contains(t, logged.String(), "ICE over TCP is off")
	require.Contains(t, logged.String(), "address already in use")
	require.NoError(t, w.createRouter("r", 0))
	require.NoError(t, w.createTransport(ipc.TransportCreate{RouterID: "r", TransportID: "T", ProducerID: "M"}))
	waitGathered(t, w.transports["T"])
	cands := offeredCandidates(t, w.transports["T"])
	require.Len(t, cands, 1)
	require.False(t, cands[0].NetworkType().IsTCP())

	open, _ := testWorkerWith(t, ipc.InitParams{Port: 46652, TCPPort: 46653, Loopback: true})
	require.NotNil(t, open.tcpMux)
	_, err = net.Listen("tcp4", "127.0.0.1:46653")
	require.Error(t, err, "the worker listens")
	open.closeAll()
	l, err := net.Listen("tcp4", "127.0.0.1:46653")
	require.NoError(t, err, "a stopped worker's TCP port is free")
	require.NoError(t, l.Close())
}

// TestASilentTCPConnectionIsClosed: a connection to the ICE-TCP port that
// sends no check, or one for no transport of the worker, is closed after the
// first-check timeout, not held.
func TestASilentTCPConnectionIsClosed(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorker(t, 46700)
	mux, err := listenTCP(ipc.InitParams{TCPPort: 46701}, w.mux, 200*time.Millisecond)
	require.NoError(t, err)
	defer mux.Close()
	stranger := consentCheck(t, "nobody:here", "password-of-nobody-at-all")
	for name, first := range map[string][]byte{"silent": nil, "unknown ufrag": stranger} {
		c, err := net.Dial("tcp4", "127.0.0.1:46701")
		require.NoError(t, err, name)
		if first != nil {
			_, err = c.Write(append([]byte{byte(len(first) >> 8), byte(len(first))}, first...))
			require.NoError(t, err)
		}
		start := time.Now()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = io.ReadAll(c)
		require.NoError(t, err, "%s: closed by the worker, not timed out here", name)
		require.Less(t, time.Since(start), 3*time.Second, name)
		require.NoError(t, c.Close())
	}
}

// stateEvents is control's side of the IPC channel in a test: it passes the
// worker's transport states on.
type stateEvents chan ipc.TransportState

func (stateEvents) HandleRequest(context.Context, string, json.RawMessage) (any, error) {
	return nil, errors.New("not control")
}

func (c stateEvents) HandleEvent(method string, params json.RawMessage) {
	var e ipc.TransportState
	if method == ipc.EventTransportState && json.Unmarshal(params, &e) == nil {
		select {
		case c <- e:
		default:
		}
	}
}

// TestATransportThatMovesToTCPMidCallFails: a transport on the worker's own
// UDP write path whose selected pair becomes TCP (an ICE restart that found
// only TCP, UDP blocked mid-call) cannot follow: the worker must not hand its
// keys' packet numbering to pion. It reports the transport failed, once
// (control then has the peer rejoin), and keeps its route.
//
// A pion client does not reconnect over TCP after such a restart (it dials
// no new TCP connection), so the test puts a TCP listener's transport on a
// route of the worker's own, as the UDP one it would have had.
func TestATransportThatMovesToTCPMidCallFails(t *testing.T) {
	testenv.RequireLoopbackOnly(t)
	w, _ := testWorkerWith(t, ipc.InitParams{Port: 46710, TCPPort: 46710, Loopback: true})
	events := make(stateEvents, 64)
	attachControl(t, w, events)
	l := connectListener(t, w, "T", tcpOnly)
	require.False(t, l.t.route.Load().fast())
	udpRoute := &route{keys: &srtpKeys{}, remote: netip.MustParseAddrPort("127.0.0.1:9")}
	l.setRoute(udpRoute)

	l.t.updateRoute(false) // ICE reports the TCP pair
	l.t.updateRoute(false)
	failed := 0
	for deadline := time.After(time.Second); ; {
		select {
		case e := <-events:
			if e.State == ipc.ConnFailed {
				require.Equal(t, "T", e.TransportID)
				failed++
			}
			continue
		case <-deadline:
		}
		break
	}
	require.Equal(t, 1, failed, "reported failed, once")
	require.Same(t, udpRoute, l.t.route.Load(), "the worker's keys stay its own")
}
