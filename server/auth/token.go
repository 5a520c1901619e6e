// Package auth mints and checks join tokens: JWTs (RFC 7519) signed with HS256.
package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Sentinel errors; each maps to a stable signalling error code.
var (
	ErrMissingToken = errors.New("missing token")
	ErrInvalidToken = errors.New("invalid token")
	ErrExpiredToken = errors.New("token expired")
)

// Grant is what a join token allows.
type Grant struct {
	Room     string
	Identity string
	Publish  bool
	Expires  time.Time
}

type claims struct {
	Room    string `json:"room"`
	Publish *bool  `json:"pub,omitempty"`
	jwt.RegisteredClaims
}

const issuer = "voicectl"

// Sign returns a token for g, valid until g.Expires.
func Sign(secret []byte, g Grant) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("empty signing secret")
	}
	if g.Room == "" || g.Identity == "" {
		return "", errors.New("room and identity are required")
	}
	pub := g.Publish
	now := time.Now()
	c := claims{
		Room:    g.Room,
		Publish: &pub,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   g.Identity,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(g.Expires),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// MaxNameBytes bounds a token's room and identity, as the dev-token and API
// endpoints do.
const MaxNameBytes = 128

// Verify checks a token's signature, algorithm and lifetime and returns its grant.
func Verify(secret []byte, token string) (Grant, error) {
	if token == "" {
		return Grant{}, ErrMissingToken
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(issuer),
		jwt.WithLeeway(5*time.Second),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Grant{}, ErrExpiredToken
	case err != nil:
		return Grant{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Room == "" || c.Subject == "" {
		return Grant{}, fmt.Errorf("%w: room and subject are required", ErrInvalidToken)
	}
	if len(c.Room) > MaxNameBytes || len(c.Subject) > MaxNameBytes {
		// Every peer of the room is sent the identity: a signed 10 KB one
		// would be a 10 KB message to each of them.
		return Grant{}, fmt.Errorf("%w: room and identity are at most %d bytes", ErrInvalidToken, MaxNameBytes)
	}
	g := Grant{Room: c.Room, Identity: c.Subject, Publish: c.Publish == nil || *c.Publish}
	if c.ExpiresAt != nil {
		g.Expires = c.ExpiresAt.Time
	}
	return g, nil
}
