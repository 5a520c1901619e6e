package turnserver

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSecret = []byte("turn-test-secret-0123456789")

// fixture is a TURN server whose only peer is one UDP socket standing in for
// a worker.
type fixture struct {
	srv    *Server
	reg    *prometheus.Registry
	worker net.PacketConn
	addr   string // the TURN server's UDP address
}

func testTurnConfig() config.Turn {
	return config.Turn{Enabled: true, UDPPort: 0, Realm: "voicectl", RelayPortMin: 31000, RelayPortMax: 31099,
		CredentialTTL: time.Hour, MaxAllocations: 10, MaxAllocationsPerUser: 2, MaxBytesPerSecond: 1 << 20}
}

func start(t testing.TB, cfg config.Turn) *fixture {
	t.Helper()
	testenv.RequireLoopbackOnly(t)
	worker, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = worker.Close() })
	wp := uint16(worker.LocalAddr().(*net.UDPAddr).Port) //nolint:gosec
	reg := prometheus.NewRegistry()
	srv, err := New(Params{Registerer: reg, Config: cfg, ListenIP: "127.0.0.1", RelayIP: "127.0.0.1", Host: "127.0.0.1",
		Secret: testSecret, Peers: Peers{IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, MinPort: wp, MaxPort: wp}})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return &fixture{srv: srv, reg: reg, worker: worker, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.udpPort))}
}

// dial is a TURN client on its own UDP socket.
func (f *fixture) dial(t testing.TB, user, pass string) *turn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: f.addr, STUNServerAddr: f.addr, Username: user, Password: pass,
		Realm: "voicectl", Conn: conn, RTO: 200 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, c.Listen())
	t.Cleanup(func() { c.Close(); _ = conn.Close() })
	return c
}

func (f *fixture) refusals(reason string) float64 {
	return testutil.ToFloat64(f.srv.metrics.refusals.WithLabelValues(reason))
}

// readFrom reads one packet within d; false when none came.
func readFrom(c net.PacketConn, d time.Duration) ([]byte, net.Addr, bool) {
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		return nil, nil, false
	}
	return buf[:n], from, true
}

func TestRelaysToWorkerBothWays(t *testing.T) {
	f := start(t, testTurnConfig())
	user, pass := f.srv.creds.Issue("PA_alice", time.Minute)
	c := f.dial(t, user, pass)
	relay, err := c.Allocate()
	require.NoError(t, err)
	defer relay.Close()

	relayed, _ := addrPort(relay.LocalAddr())
	proto, ok := f.srv.Protocol(relayed)
	require.True(t, ok, "the live allocation's relayed address is known")
	require.Equal(t, ProtoUDP, proto)
	require.Equal(t, 1.0, testutil.ToFloat64(f.srv.metrics.allocations.WithLabelValues(ProtoUDP)))

	_, err = relay.WriteTo([]byte("hello worker"), f.worker.LocalAddr())
	require.NoError(t, err)
	got, from, ok := readFrom(f.worker, 2*time.Second)
	require.True(t, ok, "the worker got the relayed packet")
	require.Equal(t, "hello worker", string(got))
	require.Equal(t, relay.LocalAddr().String(), from.String(), "it comes from the relayed address")

	_, err = f.worker.WriteTo([]byte("hello client"), from)
	require.NoError(t, err)
	got, _, ok = readFrom(relay, 2*time.Second)
	require.True(t, ok, "the client got the worker's answer")
	require.Equal(t, "hello client", string(got))
	// The relay counts a packet once its write returned: maybe after the
	// other end read it.
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(f.srv.metrics.toPeer) == float64(len("hello worker")) &&
			testutil.ToFloat64(f.srv.metrics.fromPeer) == float64(len("hello client"))
	}, 2*time.Second, 5*time.Millisecond)

	require.NoError(t, relay.Close())
	require.Eventually(t, func() bool { _, ok := f.srv.Protocol(relayed); return !ok }, 2*time.Second, 10*time.Millisecond)
	require.Equal(t, 0.0, testutil.ToFloat64(f.srv.metrics.allocations.WithLabelValues(ProtoUDP)))
}

// TestNotAnOpenRelay plays a hostile client: a valid credential, used to
// reach an address that is no worker's.
func TestNotAnOpenRelay(t *testing.T) {
	f := start(t, testTurnConfig())
	user, pass := f.srv.creds.Issue("PA_mallory", time.Minute)
	c := f.dial(t, user, pass)
	relay, err := c.Allocate()
	require.NoError(t, err)
	defer relay.Close()

	// Another host: CreatePermission is refused (403), and so is a send.
	elsewhere := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 99), Port: 9}
	// (Counts are lower bounds: a client under load retransmits requests.)
	require.Error(t, c.CreatePermission(elsewhere))
	refused := f.refusals(ReasonPermission)
	require.GreaterOrEqual(t, refused, 1.0)
	_, err = relay.WriteTo([]byte("spam"), elsewhere)
	require.Error(t, err, "no permission, no send")
	require.Greater(t, f.refusals(ReasonPermission), refused)

	// This host, a port no worker has: the permission (an IP) passes, the
	// packets are dropped where the relay writes.
	victim, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer victim.Close()
	before := f.refusals(ReasonPermission)
	for range 5 { // past pion's switch to a channel binding
		_, err = relay.WriteTo([]byte("spam"), victim.LocalAddr())
		require.NoError(t, err)
	}
	_, _, got := readFrom(victim, 300*time.Millisecond)
	require.False(t, got, "nothing reached a non-worker port")
	require.Eventually(t, func() bool { return f.refusals(ReasonPermission) >= before+5 }, 2*time.Second, 10*time.Millisecond)
	require.Equal(t, 0.0, testutil.ToFloat64(f.srv.metrics.toPeer))

	// And the non-worker cannot send in through the relayed address.
	_, err = victim.WriteTo([]byte("in"), relay.LocalAddr())
	require.NoError(t, err)
	_, _, got = readFrom(relay, 300*time.Millisecond)
	require.False(t, got)
}

func TestCredentialsRefused(t *testing.T) {
	f := start(t, testTurnConfig())
	expired := func() (string, string) {
		creds, err := NewCredentials(testSecret)
		require.NoError(t, err)
		creds.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		return creds.Issue("PA_late", time.Hour)
	}
	user, _ := f.srv.creds.Issue("PA_eve", time.Minute)
	forgedUser, forgedPass := "9999999999:PA_eve", "not-the-hmac"
	otherSecret, err := NewCredentials([]byte("some-other-secret-0123456789"))
	require.NoError(t, err)
	otherUser, otherPass := otherSecret.Issue("PA_eve", time.Minute)
	expiredUser, expiredPass := expired()

	for _, tc := range []struct{ name, user, pass string }{
		{"expired", expiredUser, expiredPass},
		{"forged password", forgedUser, forgedPass},
		{"wrong password for a real username", user, "AAAA"},
		{"signed with another secret", otherUser, otherPass},
		{"no expiry", "PA_eve", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.refusals(ReasonAuth)
			_, err := f.dial(t, tc.user, tc.pass).Allocate()
			require.Error(t, err)
			require.Greater(t, f.refusals(ReasonAuth), before)
		})
	}
	require.Equal(t, 0, f.srv.turn.AllocationCount())
}

func TestAllocationQuotas(t *testing.T) {
	cfg := testTurnConfig()
	cfg.MaxAllocationsPerUser, cfg.MaxAllocations = 1, 2
	f := start(t, cfg)
	user, pass := f.srv.creds.Issue("PA_greedy", time.Minute)
	first, err := f.dial(t, user, pass).Allocate()
	require.NoError(t, err)
	defer first.Close()
	_, err = f.dial(t, user, pass).Allocate()
	require.Error(t, err, "one allocation per credential")
	refused := f.refusals(ReasonQuota) // a retransmitted request may count twice
	require.GreaterOrEqual(t, refused, 1.0)

	u2, p2 := f.srv.creds.Issue("PA_bob", time.Minute)
	second, err := f.dial(t, u2, p2).Allocate()
	require.NoError(t, err)
	defer second.Close()
	u3, p3 := f.srv.creds.Issue("PA_carol", time.Minute)
	_, err = f.dial(t, u3, p3).Allocate()
	require.Error(t, err, "two allocations on the server")
	require.Greater(t, f.refusals(ReasonQuota), refused)

	require.NoError(t, first.Close())
	require.Eventually(t, func() bool { return f.srv.allocs.fits(user) }, 2*time.Second, 10*time.Millisecond, "a closed allocation gives its quota back")
}

func TestBandwidthBounded(t *testing.T) {
	cfg := testTurnConfig()
	cfg.MaxBytesPerSecond = 2000
	f := start(t, cfg)
	user, pass := f.srv.creds.Issue("PA_loud", time.Minute)
	relay, err := f.dial(t, user, pass).Allocate()
	require.NoError(t, err)
	defer relay.Close()
	payload := make([]byte, 1000)
	for range 20 {
		_, err = relay.WriteTo(payload, f.worker.LocalAddr())
		require.NoError(t, err)
	}
	got := 0
	for {
		if _, _, ok := readFrom(f.worker, 300*time.Millisecond); !ok {
			break
		}
		got++
	}
	require.GreaterOrEqual(t, got, 2, "the bucket's burst passes")
	require.Less(t, got, 10, "most of 20 KB in well under a second is over 2000 B/s")
	require.InDelta(t, float64(20-got), f.refusals(ReasonBandwidth), 1, "each packet the worker did not get was dropped and counted")
}

func TestICEServers(t *testing.T) {
	f := start(t, testTurnConfig())
	s := f.srv.ICEServers("PA_dave")
	require.Len(t, s, 1)
	require.Equal(t, []string{"turn:" + f.addr + "?transport=udp", "turn:" + f.addr + "?transport=tcp"}, s[0].URLs)
	key, ok := f.srv.creds.Key(s[0].Username, "voicectl")
	require.True(t, ok)
	require.Equal(t, turn.GenerateAuthKey(s[0].Username, "voicectl", s[0].Credential), key)
	require.Contains(t, s[0].Username, ":PA_dave")
}
