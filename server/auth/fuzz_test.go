package auth

import (
	"testing"
	"time"
)

// FuzzVerify: any token string is verified or refused, never a panic; a
// token that verifies names a room and identity within bounds and expires.
func FuzzVerify(f *testing.F) {
	good, _ := Sign(secret, Grant{Room: "r", Identity: "a", Publish: true, Expires: time.Now().Add(24 * time.Hour)})
	expired, _ := Sign(secret, Grant{Room: "r", Identity: "a", Expires: time.Now().Add(-time.Hour)})
	for _, s := range []string{good, expired, "", "a.b.c", "not-a-jwt", good + "x", "eyJhbGciOiJub25lIn0.e30."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		g, err := Verify(secret, tok)
		if err != nil {
			return
		}
		if g.Room == "" || g.Identity == "" || len(g.Room) > MaxNameBytes || len(g.Identity) > MaxNameBytes {
			t.Fatalf("a verified grant out of bounds: %+v", g)
		}
		if g.Expires.IsZero() {
			t.Fatalf("a verified grant without expiry: %+v", g)
		}
	})
}
