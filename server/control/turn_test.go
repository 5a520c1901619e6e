package control

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/cluster"
	"github.com/voicectl/voicectl/server/config"
	"github.com/voicectl/voicectl/server/turnserver"
	"github.com/voicectl/voicectl/server/wire"
)

// turnConfig is a one-worker server with the embedded TURN server on ports
// of its own; tls adds TURN over TLS with a self-signed certificate that
// this process trusts (pion's TURN client verifies against the system
// roots: TestMain points SSL_CERT_FILE at testCert before any test runs).
func turnConfig(t *testing.T, tls bool) config.Config {
	cfg := testConfig(1)
	base := int(nextPort.Add(10))
	cfg.Turn = config.Turn{Enabled: true, UDPPort: base, TLSPort: base + 1, Realm: "voicectl",
		RelayPortMin: base + 2, RelayPortMax: base + 9, CredentialTTL: time.Hour,
		MaxAllocations: 100, MaxAllocationsPerUser: 4, MaxBytesPerSecond: 250000}
	cfg.RTC.ICEServers = []config.ICEServer{{URLs: []string{"stun:127.0.0.1:9"}}}
	if tls {
		cfg.Turn.CertFile, cfg.Turn.KeyFile = selfSigned(t)
	}
	return cfg
}

// testCert is one self-signed certificate for 127.0.0.1 per test process:
// Go reads SSL_CERT_FILE once, so every TLS test of the process (-count=N)
// presents the certificate TestMain made it trust.
var testCert = sync.OnceValues(func() (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "voicectl turn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
})

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM := testCert()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, keyPEM, 0o600))
	return certFile, keyFile
}

func (h *harness) connectRelayed(room, identity, relay string) *client.Client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Config{URL: h.url, Token: h.token(room, identity, true, time.Hour), Publish: true,
		Level: 30, LoopbackOnly: true, Relay: relay})
	require.NoError(h.t, err)
	h.t.Cleanup(c.Close)
	return c
}

// turnMetric sums the samples of a voicectl_turn_* family whose labels hold
// label=value.
func (h *harness) turnMetric(name, label, value string) float64 {
	mfs, err := h.c.gatherer.Gather()
	require.NoError(h.t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m, label, value) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// turnSeries is every voicectl_turn_* sample, keyed by name and labels, for
// messages about a relayed client that got no media.
func (h *harness) turnSeries() map[string]float64 {
	mfs, err := h.c.gatherer.Gather()
	require.NoError(h.t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "voicectl_turn") {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			out[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

func hasLabel(m *dto.Metric, label, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == label && l.GetValue() == value {
			return true
		}
	}
	return false
}

// TestPeersHearEachOtherThroughTURN: a peer that reaches the server only
// through the embedded TURN server (over UDP, TCP and TLS) hears and is
// heard by a peer on the direct path.
func TestPeersHearEachOtherThroughTURN(t *testing.T) {
	for _, tc := range []struct{ relay, proto string }{{client.RelayUDP, "turn/udp"}, {client.RelayTCP, "turn/tcp"}, {client.RelayTLS, "turn/tls"}} {
		t.Run(tc.relay, func(t *testing.T) {
			h := startHarness(t, turnConfig(t, tc.relay == client.RelayTLS))
			direct := h.connect("r", "direct", true)
			relayed := h.connectRelayed("r", "relayed", tc.relay)

			urls := relayed.Joined.ICEServers
			require.Len(t, urls, 2, "the embedded TURN server, then rtc.ice_servers")
			require.Contains(t, urls[0].Username, ":"+relayed.PeerID(), "credentials name the peer")
			require.NotEmpty(t, urls[0].Credential)
			require.Equal(t, tc.relay == client.RelayTLS, strings.HasPrefix(urls[0].URLs[len(urls[0].URLs)-1], "turns:"))
			require.Equal(t, []string{"stun:127.0.0.1:9"}, urls[1].URLs)

			hearsAll(t, []*client.Client{direct, relayed}, 25)
			require.Equal(t, 1.0, h.turnMetric("voicectl_turn_allocations", "protocol", tc.proto), "one allocation, over %s", tc.proto)
			require.Greater(t, h.turnMetric("voicectl_turn_relayed_bytes_total", "direction", "to_peer"), 1000.0)
			require.Greater(t, h.turnMetric("voicectl_turn_relayed_bytes_total", "direction", "from_peer"), 1000.0)
			require.Zero(t, h.turnMetric("voicectl_turn_refusals_total", "reason", "auth"))
		})
	}
}

func TestNoICEServersWithoutTURN(t *testing.T) {
	h := startHarness(t, testConfig(1))
	a := h.connect("r", "a", true)
	require.Empty(t, a.Joined.ICEServers)
}

// TestICEServersOfARelayHost: a peer whose media another server relays gets
// that server's TURN URLs, with credentials that server accepts (the
// shared secret), and never this server's TURN.
func TestICEServersOfARelayHost(t *testing.T) {
	secret := []byte(testSecret)
	creds, err := turnserver.NewCredentials(secret)
	require.NoError(t, err)
	external := wire.ICEServer{URLs: []string{"turn:coturn.example:3478"}, Username: "u", Credential: "p"}
	remoteURLs := []string{"turn:127.0.0.2:3478?transport=udp", "turns:relay.example:443?transport=tcp"}
	s := &iceServers{local: "s1", creds: creds, ttl: time.Hour, external: []wire.ICEServer{external},
		remote: func(id cluster.ServerID) []string {
			if id == "s2" {
				return remoteURLs
			}
			return nil
		}}

	got := s.ICEServers("PA_x", "s2")
	require.Len(t, got, 2)
	require.Equal(t, remoteURLs, got[0].URLs)
	key, ok := creds.Key(got[0].Username, "voicectl")
	require.True(t, ok, "the relay host, sharing the secret, accepts the credential")
	require.Equal(t, pionturn.GenerateAuthKey(got[0].Username, "voicectl", got[0].Credential), key)
	require.Equal(t, external, got[1])

	require.Equal(t, []wire.ICEServer{external}, s.ICEServers("PA_x", "s3"), "a relay host without TURN: the external servers only")
	require.Equal(t, []wire.ICEServer{external}, s.ICEServers("PA_x", "s1"), "this server runs no TURN here")
}

func TestWorkerIPsFollowRTCSettings(t *testing.T) {
	var cfg config.Config
	cfg.RTC.Loopback = true
	require.Contains(t, workerIPs(cfg), "127.0.0.1", "workers offer loopback candidates")
	cfg.RTC.Loopback = false
	require.NotContains(t, workerIPs(cfg), "127.0.0.1")
	cfg.RTC.IPs = []string{"127.0.0.5"}
	require.Empty(t, workerIPs(cfg), "rtc.ips lists them itself")
}
