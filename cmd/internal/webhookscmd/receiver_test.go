package webhookscmd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/webhook"
)

func newTestReceiver(t *testing.T, tty bool) (*receiver, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := &ListenOptions{IO: &cmdutil.IOStreams{Out: &out, ErrOut: &errOut, IsTerminal: tty}, Tolerance: webhook.DefaultTolerance,
		Now: func() time.Time { return t0 }, HTTPClient: func() *http.Client { return http.DefaultClient }}
	r, err := newReceiver(o, []byte(testKey))
	require.NoError(t, err)
	return r, &out, &errOut
}

func post(h http.Handler, body []byte, sig string) int {
	req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(webhook.SignatureHeader, sig)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestReceiverPrintsEachGenuineEventOnceAsJSONLines(t *testing.T) {
	r, out, errOut := newTestReceiver(t, false)
	a, sigA := signedEvent(t, webhook.RoomStarted, "standup", t0)
	b, sigB := signedEvent(t, webhook.ParticipantJoined, "standup", t0)
	require.Equal(t, http.StatusNoContent, post(r, a, sigA))
	require.Equal(t, http.StatusNoContent, post(r, b, sigB))
	require.Equal(t, http.StatusNoContent, post(r, a, sigA), "a redelivery is acknowledged")
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 2, "the redelivered event is printed once: %q", out.String())
	var first webhook.Event
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.Equal(t, webhook.RoomStarted, first.Type)
	require.Contains(t, errOut.String(), "delivered again")
}

func TestReceiverRefusesForgedReplayedAndUnsigned(t *testing.T) {
	r, out, errOut := newTestReceiver(t, false)
	body, sig := signedEvent(t, webhook.RoomStarted, "standup", t0)
	require.Equal(t, http.StatusUnauthorized, post(r, body, webhook.Sign([]byte("another-key-entirely"), t0, body)))
	require.Equal(t, http.StatusUnauthorized, post(r, body, ""))
	old, oldSig := signedEvent(t, webhook.RoomStarted, "standup", t0.Add(-time.Hour))
	require.Equal(t, http.StatusUnauthorized, post(r, old, oldSig))
	require.Equal(t, http.StatusUnauthorized, post(r, append(body, ' '), sig), "an altered body")
	require.Empty(t, out.String())
	require.Equal(t, 4, strings.Count(errOut.String(), "refused"), errOut.String())
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestReceiverPrintsATableOnATerminal(t *testing.T) {
	r, out, _ := newTestReceiver(t, true)
	ev := webhook.New(webhook.ParticipantLeft, t0)
	ev.Room, ev.Server, ev.Reason = "standup", "srv-1", webhook.ReasonKicked
	ev.Participant = &webhook.Participant{ID: "PA_1", Identity: "alice"}
	body, _ := json.Marshal(ev)
	require.Equal(t, http.StatusNoContent, post(r, body, webhook.Sign([]byte(testKey), t0, body)))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	require.True(t, strings.HasPrefix(lines[0], "TIME"), lines[0])
	for _, want := range []string{"participant_left", "standup", "alice (PA_1)", "kicked", ev.ID} {
		require.Contains(t, lines[1], want)
	}
}
