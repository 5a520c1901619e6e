package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook's signature:
//
//	Voicectl-Signature: t=1765060000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// v1 is the hex HMAC-SHA256, under the shared key (webhooks.key), of the
// timestamp, a dot and the raw body. Signing the timestamp with the body lets
// a receiver refuse an old request sent again (a replay) without keeping
// state; a header may carry several v1 values (one per key while a key is
// being rotated), and one match is enough.
const SignatureHeader = "Voicectl-Signature"

// Other headers a webhook request carries, for logs and routing; only the
// signed body is to be trusted.
const (
	EventIDHeader   = "Voicectl-Event-Id"
	EventTypeHeader = "Voicectl-Event-Type"
)

// DefaultTolerance is the replay window: a signature whose timestamp is
// further than this from the receiver's clock, either way, is refused.
const DefaultTolerance = 5 * time.Minute

// Sign returns the SignatureHeader value for body signed at t.
func Sign(key []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(key, ts, body))
}

func mac(key []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks header (a SignatureHeader value) against body under key:
// the timestamp within tolerance of now (0: DefaultTolerance) and one v1
// signature equal to the HMAC, compared in constant time. It returns the
// signed time. Errors wrap ErrNoSignature, ErrMalformedSignature, ErrForged
// or ErrReplayed.
func Verify(key []byte, header string, body []byte, now time.Time, tolerance time.Duration) (time.Time, error) {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return time.Time{}, ErrNoSignature
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return time.Time{}, ErrMalformedSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return time.Time{}, ErrMalformedSignature
			}
			sigs = append(sigs, sig)
		}
		// Other schemes (v0, v2…) are ignored, for a later one to be added
		// beside v1.
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return time.Time{}, ErrMalformedSignature
	}
	signed := time.Unix(unix, 0)
	want := mac(key, ts, body)
	match := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			match = true
		}
	}
	if !match {
		return signed, ErrForged
	}
	if d := now.Sub(signed); d > tolerance || d < -tolerance {
		return signed, fmt.Errorf("%w: signed at %s, %s from now (window ±%s)", ErrReplayed, signed.UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return signed, nil
}
