package webhookscmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/webhook"
)

const testKey = "a-shared-webhook-key"

var t0 = time.Unix(1765060000, 0)

func signedEvent(t *testing.T, typ, room string, at time.Time) ([]byte, string) {
	t.Helper()
	ev := webhook.New(typ, at)
	ev.Room, ev.Server = room, "srv-1"
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	return body, webhook.Sign([]byte(testKey), at, body)
}

// runVerify runs `webhooks verify` through cobra with env and args, the body on stdin.
func runVerify(t *testing.T, env []string, body []byte, now time.Time, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: bytes.NewReader(body), Out: &out, ErrOut: &errOut},
		Environ: func() []string { return env }, Now: func() time.Time { return now }}
	cmd := NewCmdWebhooks(f)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(append([]string{"verify"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestVerifyAcceptsAGenuineEvent(t *testing.T) {
	body, sig := signedEvent(t, webhook.RoomStarted, "standup", t0)
	out, _, err := runVerify(t, nil, body, t0.Add(time.Minute), "--key", testKey, "--signature", sig)
	require.NoError(t, err)
	require.Contains(t, out, "valid: room_started EV_")
	require.Contains(t, out, `room "standup"`)

	// The key from the environment, the body from a file.
	file := filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(file, body, 0o600))
	out, _, err = runVerify(t, []string{"VOICECTL_WEBHOOKS_KEY=" + testKey}, nil, t0, "--signature", sig, "--payload", file)
	require.NoError(t, err)
	require.Contains(t, out, "valid:")
}

func TestVerifyRefusesForgedAndReplayed(t *testing.T) {
	body, sig := signedEvent(t, webhook.ParticipantJoined, "standup", t0)
	cases := []struct {
		name string
		body []byte
		sig  string
		now  time.Time
		want error
		text string
	}{
		{"forged with another key", body, webhook.Sign([]byte("not-the-shared-key"), t0, body), t0, webhook.ErrForged, "forged"},
		{"body altered", bytes.Replace(body, []byte("standup"), []byte("town-hall"), 1), sig, t0, webhook.ErrForged, "forged"},
		{"replayed ten minutes later", body, sig, t0.Add(10 * time.Minute), webhook.ErrReplayed, "replay window"},
		{"malformed header", body, "v1=zz", t0, webhook.ErrMalformedSignature, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := runVerify(t, nil, c.body, c.now, "--key", testKey, "--signature", c.sig)
			require.ErrorIs(t, err, c.want)
			require.Contains(t, err.Error(), "refused: ")
			require.Contains(t, err.Error(), c.text)
			require.Equal(t, cmdutil.ExitError, cmdutil.ExitCode(err))
			require.Empty(t, out)
		})
	}
}

func TestVerifyRefusesASignedBodyThatIsNoEvent(t *testing.T) {
	body := []byte(`{"hello":"world"}`)
	_, err := func() (string, error) {
		out, _, err := runVerify(t, nil, body, t0, "--key", testKey, "--signature", webhook.Sign([]byte(testKey), t0, body))
		return out, err
	}()
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.Contains(t, err.Error(), "not a voicectl event")
}

func TestVerifyWithoutAKeyIsAConfigError(t *testing.T) {
	body, sig := signedEvent(t, webhook.RoomStarted, "r", t0)
	_, _, err := runVerify(t, nil, body, t0, "--signature", sig)
	require.Error(t, err)
	require.Equal(t, cmdutil.ExitConfig, cmdutil.ExitCode(err))
	require.True(t, strings.Contains(err.Error(), "webhooks.key"), err.Error())
}
