package turnserver

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API draft's HMAC, not a hash of secrets
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/pion/turn/v5"

	"github.com/voicectl/voicectl/server/wire"
)

// Credentials are time-limited TURN credentials as the TURN REST API draft
// has them (draft-uberti-behave-turn-rest-00 §2.2): the username is
// "<expiry unix time>:<peer id>" and the password is
// base64(HMAC-SHA1(secret, username)). Any server holding the secret checks
// them without state, so in a cluster every server accepts the credentials
// another handed out.
type Credentials struct {
	secret []byte
	now    func() time.Time
}

// NewCredentials signs and checks credentials with secret.
func NewCredentials(secret []byte) (*Credentials, error) {
	if len(secret) == 0 {
		return nil, ErrNoSecret
	}
	return &Credentials{secret: secret, now: time.Now}, nil
}

// Issue returns a username and password for peerID, valid for ttl.
func (c *Credentials) Issue(peerID string, ttl time.Duration) (username, password string) {
	username = strconv.FormatInt(c.now().Add(ttl).Unix(), 10) + ":" + peerID
	return username, c.password(username)
}

// ICEServer is urls with fresh credentials for peerID: an ice_servers
// entry for this server's TURN or for another's that shares the secret.
func (c *Credentials) ICEServer(peerID string, ttl time.Duration, urls []string) wire.ICEServer {
	user, pass := c.Issue(peerID, ttl)
	return wire.ICEServer{URLs: urls, Username: user, Credential: pass}
}

func (c *Credentials) password(username string) string {
	mac := hmac.New(sha1.New, c.secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Key is the long-term key (RFC 8489 §9.2.2) of username in realm, and
// false for a username that is malformed or expired. A forged password is
// caught by pion afterwards: the request's MESSAGE-INTEGRITY does not match
// the key of the password this server would have issued.
func (c *Credentials) Key(username, realm string) ([]byte, bool) {
	expiry, peer, ok := strings.Cut(username, ":")
	if !ok || peer == "" {
		return nil, false
	}
	t, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil || c.now().Unix() >= t {
		return nil, false
	}
	return turn.GenerateAuthKey(username, realm, c.password(username)), true
}
