package worker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// certRenewBefore is how long before expiry (pion issues certificates for a
// month) the worker switches to a fresh one for new transports.
const certRenewBefore = 24 * time.Hour

// dtlsCertificate is the worker's DTLS certificate, shared by all its transports
// as mediasoup shares one per worker: generating an ECDSA key per peer connection
// was a visible part of every join. Peers authenticate it by the fingerprint in
// each offer (RFC 8122), not by name, so sharing it reveals nothing new.
type dtlsCertificate struct {
	mu   sync.Mutex
	cert *webrtc.Certificate
}

// get returns the current certificate, generating one when there is none or it
// is about to expire.
func (c *dtlsCertificate) get() (webrtc.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || time.Until(c.cert.Expires()) < certRenewBefore {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, err
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, err
		}
		c.cert = cert
	}
	return *c.cert, nil
}
