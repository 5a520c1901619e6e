package webhook

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	testKey = []byte("a-shared-webhook-key")
	t0      = time.Unix(1765060000, 0)
)

func TestSignThenVerify(t *testing.T) {
	body := []byte(`{"id":"EV_1","type":"room_started"}`)
	h := Sign(testKey, t0, body)
	require.True(t, strings.HasPrefix(h, "t=1765060000,v1="), h)
	signed, err := Verify(testKey, h, body, t0.Add(30*time.Second), 0)
	require.NoError(t, err)
	require.True(t, signed.Equal(t0))
}

func TestVerifyRefuses(t *testing.T) {
	body := []byte(`{"id":"EV_1","type":"room_started"}`)
	good := Sign(testKey, t0, body)
	cases := []struct {
		name   string
		key    []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"no header", testKey, "", body, t0, ErrNoSignature},
		{"garbage", testKey, "nonsense", body, t0, ErrMalformedSignature},
		{"no v1", testKey, "t=1765060000", body, t0, ErrMalformedSignature},
		{"bad timestamp", testKey, strings.Replace(good, "t=1765060000", "t=soon", 1), body, t0, ErrMalformedSignature},
		{"short v1", testKey, "t=1765060000,v1=abcd", body, t0, ErrMalformedSignature},
		{"other key", []byte("another-key"), good, body, t0, ErrForged},
		{"altered body", testKey, good, []byte(`{"id":"EV_1","type":"room_finished"}`), t0, ErrForged},
		{"timestamp changed", testKey, strings.Replace(good, "t=1765060000", "t=1765060100", 1), body, t0, ErrForged},
		{"replayed later", testKey, good, body, t0.Add(DefaultTolerance + time.Second), ErrReplayed},
		{"from the future", testKey, good, body, t0.Add(-DefaultTolerance - time.Second), ErrReplayed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.key, c.header, c.body, c.now, 0)
			require.ErrorIs(t, err, c.want)
		})
	}
}

func TestVerifyTakesAnyOfSeveralSignatures(t *testing.T) {
	body := []byte(`{}`)
	old := Sign([]byte("old-key"), t0, body)
	cur := Sign(testKey, t0, body)
	_, v1, _ := strings.Cut(cur, ",")
	_, err := Verify(testKey, old+","+v1, body, t0, 0)
	require.NoError(t, err, "a header with the old key's and the new key's signatures passes under the new key")
}

func TestVerifyToleranceIsConfigurable(t *testing.T) {
	body := []byte(`{}`)
	h := Sign(testKey, t0, body)
	_, err := Verify(testKey, h, body, t0.Add(2*time.Second), time.Second)
	require.ErrorIs(t, err, ErrReplayed)
	_, err = Verify(testKey, h, body, t0.Add(2*time.Second), 3*time.Second)
	require.NoError(t, err)
}

func TestEventJSONAndIDs(t *testing.T) {
	ev := New(ParticipantLeft, t0)
	ev.Room, ev.Server, ev.Reason = "standup", "srv-1", ReasonKicked
	ev.Participant = &Participant{ID: "PA_1", Identity: "alice", Publish: true}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	var back Event
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, ev.ID, back.ID)
	require.Equal(t, "room:standup", back.OrderKey())
	require.Equal(t, "server:srv-2", Event{Server: "srv-2"}.OrderKey())
	require.NotEqual(t, NewID(), NewID())
	require.NotContains(t, string(b), `"rooms"`, "empty fields are left out")
}
