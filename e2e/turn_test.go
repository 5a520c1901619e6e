package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// turnRelayIP is where a test server's TURN relays from: not 127.0.0.1, so
// the fault rules (between 127.0.0.1 and itself) leave the relay's leg to
// the workers alone, as a firewall in front of the pages would.
const turnRelayIP = "127.0.0.3"

// turnPorts are a test server's TURN ports, inside its rtc port block
// (rtcPort): TURN over UDP and TCP on udp, TLS on tls, and relayed ports
// from relayMin to the end of the block.
type turnPorts struct {
	udp, tls, relayMin, relayMax int
}

func turnPortsAt(rtcPort int) turnPorts {
	return turnPorts{udp: rtcPort + 5, tls: rtcPort + 6, relayMin: rtcPort + 8, relayMax: rtcPort + rtcPortBlock - 1}
}

// turnEnv enables the server's embedded TURN server on tp, TLS with a
// self-signed certificate for 127.0.0.1 made here (the pages' Chromium
// takes it with --ignore-certificate-errors).
func turnEnv(t *testing.T, tp turnPorts) []string {
	t.Helper()
	cert, key := selfSignedCert(t)
	return []string{
		"VOICECTL_TURN_ENABLED=true",
		fmt.Sprint("VOICECTL_TURN_UDP_PORT=", tp.udp),
		fmt.Sprint("VOICECTL_TURN_TLS_PORT=", tp.tls),
		fmt.Sprint("VOICECTL_TURN_RELAY_PORT_MIN=", tp.relayMin),
		fmt.Sprint("VOICECTL_TURN_RELAY_PORT_MAX=", tp.relayMax),
		"VOICECTL_TURN_RELAY_IP=" + turnRelayIP,
		// The workers' address, which the relay may send to (it relays to
		// nothing else).
		"VOICECTL_RTC_IPS=127.0.0.1",
		"VOICECTL_TURN_LISTEN_IP=127.0.0.1",
		"VOICECTL_TURN_HOST=127.0.0.1",
		"VOICECTL_TURN_CERT_FILE=" + cert,
		"VOICECTL_TURN_KEY_FILE=" + key,
	}
}

// selfSignedCert writes a P-256 certificate for 127.0.0.1, valid for an
// hour, and its key as PEM files.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}
