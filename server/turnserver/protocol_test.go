package turnserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/stretchr/testify/require"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and returns its
// files and a pool that trusts it.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "turn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile, pool
}

// TestProtocolOverTCPAndTLS: an allocation made over TURN/TCP or TURN/TLS
// is found by its relayed address with that protocol, and relays to the
// worker like one made over UDP.
func TestProtocolOverTCPAndTLS(t *testing.T) {
	cfg := testTurnConfig()
	var pool *x509.CertPool
	cfg.CertFile, cfg.KeyFile, pool = writeCert(t)
	f := start(t, cfg)
	urls := f.srv.URLs()
	require.Len(t, urls, 3)
	require.Equal(t, "turns:127.0.0.1:"+strconv.Itoa(f.srv.tlsPort)+"?transport=tcp", urls[2])

	dial := map[string]func() (net.Conn, error){
		ProtoTCP: func() (net.Conn, error) { return net.Dial("tcp4", f.addr) },
		ProtoTLS: func() (net.Conn, error) {
			return tls.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.srv.tlsPort)), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		},
	}
	for _, proto := range []string{ProtoTCP, ProtoTLS} {
		t.Run(proto, func(t *testing.T) {
			conn, err := dial[proto]()
			require.NoError(t, err)
			user, pass := f.srv.creds.Issue("PA_"+proto[5:], time.Minute)
			c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: conn.RemoteAddr().String(), STUNServerAddr: conn.RemoteAddr().String(),
				Username: user, Password: pass, Realm: "voicectl", Conn: turn.NewSTUNConn(conn)})
			require.NoError(t, err)
			require.NoError(t, c.Listen())
			defer func() { c.Close(); _ = conn.Close() }()
			relay, err := c.Allocate()
			require.NoError(t, err)
			defer relay.Close()

			relayed, _ := addrPort(relay.LocalAddr())
			got, ok := f.srv.Protocol(relayed)
			require.True(t, ok)
			require.Equal(t, proto, got)

			_, err = relay.WriteTo([]byte("over "+proto), f.worker.LocalAddr())
			require.NoError(t, err)
			b, _, ok := readFrom(f.worker, 2*time.Second)
			require.True(t, ok)
			require.Equal(t, "over "+proto, string(b))
		})
	}
	_, ok := f.srv.Protocol(netip.MustParseAddrPort("127.0.0.1:9"))
	require.False(t, ok, "no allocation has that address")
	var off *Server
	_, ok = off.Protocol(netip.MustParseAddrPort("127.0.0.1:9"))
	require.False(t, ok, "TURN off")
}
