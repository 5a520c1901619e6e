package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

var secret = []byte("0123456789abcdef0123")

func TestSignVerifyRoundTrip(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tok, err := Sign(secret, Grant{Room: "r1", Identity: "alice", Publish: false, Expires: exp})
	require.NoError(t, err)
	g, err := Verify(secret, tok)
	require.NoError(t, err)
	require.Equal(t, "r1", g.Room)
	require.Equal(t, "alice", g.Identity)
	require.False(t, g.Publish)
	require.True(t, g.Expires.Equal(exp))
}

func TestVerifyRejects(t *testing.T) {
	good, err := Sign(secret, Grant{Room: "r", Identity: "a", Publish: true, Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	expired, err := Sign(secret, Grant{Room: "r", Identity: "a", Expires: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	forged, err := Sign([]byte("another-secret-of-16"), Grant{Room: "r", Identity: "a", Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"room": "r", "sub": "a", "iss": issuer, "exp": time.Now().Add(time.Hour).Unix()})
	noneTok, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	long, err := Sign(secret, Grant{Room: "r", Identity: strings.Repeat("x", 10<<10), Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	longRoom, err := Sign(secret, Grant{Room: strings.Repeat("r", MaxNameBytes+1), Identity: "a", Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	edge, err := Sign(secret, Grant{Room: strings.Repeat("r", MaxNameBytes), Identity: strings.Repeat("a", MaxNameBytes), Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	_, err = Verify(secret, edge)
	require.NoError(t, err, "names of exactly MaxNameBytes pass")
	claims := jwt.MapClaims{"room": "r", "sub": "a", "iss": issuer, "exp": time.Now().Add(time.Hour).Unix()}
	// The same secret under another HMAC: only HS256 is taken.
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString(secret)
	require.NoError(t, err)
	// RS256 with a key of the attacker's: never verified with the secret.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rs256, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(rsaKey)
	require.NoError(t, err)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]

	cases := map[string]struct {
		tok  string
		want error
	}{
		"missing":                  {"", ErrMissingToken},
		"expired":                  {expired, ErrExpiredToken},
		"forged":                   {forged, ErrInvalidToken},
		"alg none":                 {noneTok, ErrInvalidToken},
		"HS512":                    {hs512, ErrInvalidToken},
		"RS256":                    {rs256, ErrInvalidToken},
		"tampered":                 {tampered, ErrInvalidToken},
		"garbage":                  {"not-a-jwt", ErrInvalidToken},
		"a 10 KB identity, signed": {long, ErrInvalidToken},
		"a long room, signed":      {longRoom, ErrInvalidToken},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Verify(secret, tc.tok)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestSignNeedsRoomAndIdentity(t *testing.T) {
	_, err := Sign(secret, Grant{Room: "", Identity: "a", Expires: time.Now().Add(time.Hour)})
	require.Error(t, err)
	_, err = Sign(nil, Grant{Room: "r", Identity: "a", Expires: time.Now().Add(time.Hour)})
	require.Error(t, err)
}
