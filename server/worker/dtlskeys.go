package worker

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"sync"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/srtp/v3"
)

// srtpKeys are the keys this side sends SRTP with on one DTLS association.
type srtpKeys struct {
	profile srtp.ProtectionProfile
	key     []byte
	salt    []byte
}

// newContext returns a fresh SRTP context with these keys. Every consumer gets its
// own: contexts are not safe for concurrent use, and consumers of one transport are
// written by different producers' goroutines. Sharing the master key is safe because
// the SRTP IV includes the SSRC (RFC 3711 §4.1.1, RFC 7714 §8.1).
func (k *srtpKeys) newContext() (*srtp.Context, error) {
	return srtp.CreateContext(k.key, k.salt, k.profile)
}

// dtlsKeyCatcher learns the DTLS-SRTP keys of one transport while pion runs the
// handshake, so the worker can encrypt and send SRTP itself (pion does not expose
// the DTLS connection). It sees the ServerHello through pion's public hook (the
// server random, cipher suite and SRTP profile) and the master secret through the
// key-log writer, then runs the RFC 5705 exporter with the RFC 5764 §4.2 label,
// exactly as the DTLS stack does.
//
// It works when the worker is the DTLS server, which is every session with a
// browser or pion client: the worker offers actpass and answerers pick active
// (RFC 8842 §5.3). As DTLS client the worker never sees the server random, keys
// returns nil, and the transport keeps pion's own write path.
type dtlsKeyCatcher struct {
	mu           sync.Mutex
	serverRandom []byte
	hash         func() hash.Hash
	profile      srtp.ProtectionProfile
	clientRandom []byte
	master       []byte
}

// serverHello is the dtls ServerHelloMessageHook: it records and passes the message on.
func (c *dtlsKeyCatcher) serverHello(m handshake.MessageServerHello) handshake.Message {
	random := m.Random.MarshalFixed()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serverRandom = random[:]
	c.hash = nil
	if m.CipherSuiteID != nil {
		c.hash = prfHash(dtls.CipherSuiteID(*m.CipherSuiteID))
	}
	c.profile = 0
	for _, ext := range m.Extensions {
		if use, ok := ext.(*extension.UseSRTP); ok && len(use.ProtectionProfiles) == 1 {
			c.profile = srtp.ProtectionProfile(use.ProtectionProfiles[0])
		}
	}
	return &m
}

// Write takes NSS key-log lines ("CLIENT_RANDOM <hex> <hex>").
func (c *dtlsKeyCatcher) Write(line []byte) (int, error) {
	fields := bytes.Fields(line)
	if len(fields) == 3 && string(fields[0]) == "CLIENT_RANDOM" {
		random, err1 := hex.DecodeString(string(fields[1]))
		master, err2 := hex.DecodeString(string(fields[2]))
		if err1 == nil && err2 == nil {
			c.mu.Lock()
			c.clientRandom, c.master = random, master
			c.mu.Unlock()
		}
	}
	return len(line), nil
}

// labelExtractorDTLSSRTP is the exporter label of RFC 5764 §4.2.
const labelExtractorDTLSSRTP = "EXTRACTOR-dtls_srtp"

// keys returns the server's sending keys, or nil when the handshake did not show
// everything needed (the worker was the DTLS client, or an unknown cipher suite).
func (c *dtlsKeyCatcher) keys() *srtpKeys { return c.exported(true) }

// peerKeys returns the keys the client sends with, as keys does.
func (c *dtlsKeyCatcher) peerKeys() *srtpKeys { return c.exported(false) }

// exported runs the exporter and returns the server's keys, or the client's.
func (c *dtlsKeyCatcher) exported(server bool) *srtpKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serverRandom == nil || c.master == nil || c.hash == nil || c.profile == 0 {
		return nil
	}
	keyLen, err := c.profile.KeyLen()
	if err != nil {
		return nil
	}
	saltLen, err := c.profile.SaltLen()
	if err != nil {
		return nil
	}
	// RFC 5705 §4: PRF(master_secret, label, client_random + server_random).
	seed := append(append([]byte(labelExtractorDTLSSRTP), c.clientRandom...), c.serverRandom...)
	material, err := prf.PHash(c.master, seed, 2*keyLen+2*saltLen, c.hash)
	if err != nil {
		return nil
	}
	// RFC 5764 §4.2: client key | server key | client salt | server salt.
	if !server {
		return &srtpKeys{profile: c.profile, key: material[:keyLen], salt: material[2*keyLen : 2*keyLen+saltLen]}
	}
	return &srtpKeys{profile: c.profile, key: material[keyLen : 2*keyLen], salt: material[2*keyLen+saltLen:]}
}

// prfHash is the TLS 1.2 PRF hash of the cipher suites a browser negotiates
// (RFC 5246 §5: SHA-256 unless the suite names another).
func prfHash(id dtls.CipherSuiteID) func() hash.Hash {
	switch id {
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return sha512.New384
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, dtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return sha256.New
	}
	return nil
}
