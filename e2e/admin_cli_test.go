package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/server/wire"
)

var adminKeyLine = regexp.MustCompile(`dev admin key \(auth.admin_key\): (\S+)`)
var secretLine = regexp.MustCompile(`dev secret \(auth.secret\): (\S+)`)

// cli runs the voicectl binary and returns stdout, stderr and the exit code.
func cli(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errOut.String(), code
}

func TestAdminCLIAgainstRealServer(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--workers", "2")
	key := adminKeyLine.FindStringSubmatch(s.out.String())
	secret := secretLine.FindStringSubmatch(s.out.String())
	require.NotNil(t, key, s.out.String())
	require.NotNil(t, secret)
	env := []string{"VOICECTL_ADMIN_URL=" + s.base, "VOICECTL_AUTH_ADMIN_KEY=" + key[1], "PATH=/usr/bin:/bin"}

	join := func(room, name string, publish bool) *client.Client {
		tok, _, code := cli(t, []string{"VOICECTL_AUTH_SECRET=" + secret[1]}, "token", "create", "--room", room, "--identity", name)
		require.Zero(t, code)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.Connect(ctx, client.Config{URL: s.base, Token: strings.TrimSpace(tok), Publish: publish, LoopbackOnly: true, Level: 30})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}
	a := join("alpha", "alice", true)
	b := join("alpha", "bob", true)
	c := join("beta", "carol", false)
	require.Eventually(t, func() bool { return a.Received(b.PeerID()) > 10 }, 10*time.Second, 50*time.Millisecond)

	out, _, code := cli(t, env, "rooms", "list", "-o", "json")
	require.Zero(t, code)
	var rooms []wire.AdminRoom
	require.NoError(t, json.Unmarshal([]byte(out), &rooms))
	require.Len(t, rooms, 2)
	require.Equal(t, "alpha", rooms[0].ID)
	require.Equal(t, 2, rooms[0].Peers)

	out, _, code = cli(t, env, "workers", "-o", "json")
	require.Zero(t, code)
	var ws []wire.AdminWorker
	require.NoError(t, json.Unmarshal([]byte(out), &ws))
	require.Len(t, ws, 2)
	require.Equal(t, 3, ws[0].Transports+ws[1].Transports)

	out, _, code = cli(t, env, "peers", "alpha")
	require.Zero(t, code)
	require.Contains(t, out, "alice")
	require.Contains(t, out, "bob")

	out, _, code = cli(t, env, "peers", "kick", "alpha", "bob")
	require.Zero(t, code)
	require.Contains(t, out, "kicked")
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("kicked peer still connected")
	}

	out, _, code = cli(t, env, "rooms", "close", "beta")
	require.Zero(t, code)
	require.Contains(t, out, "closed")
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("peer of a closed room still connected")
	}

	// Error paths: one line on stderr, a non-zero exit, no stack trace.
	for name, tc := range map[string]struct {
		env  []string
		args []string
		want string
	}{
		"wrong key":   {env: []string{"VOICECTL_ADMIN_URL=" + s.base, "VOICECTL_AUTH_ADMIN_KEY=wrong-key-0123456789"}, args: []string{"workers"}, want: "admin key refused"},
		"no key":      {env: []string{"VOICECTL_ADMIN_URL=" + s.base}, args: []string{"workers"}, want: "no admin key"},
		"unreachable": {env: []string{"VOICECTL_AUTH_ADMIN_KEY=" + key[1]}, args: []string{"rooms", "list", "--server", "http://127.0.0.1:1"}, want: "cannot reach server"},
		"unknown":     {env: env, args: []string{"rooms", "show", "nope"}, want: `room "nope" not found`},
		"bad url":     {env: env, args: []string{"pipes", "--server", "ftp://x"}, want: "admin.url"},
	} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := cli(t, tc.env, tc.args...)
			require.NotZero(t, code)
			require.Empty(t, stdout)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "want one line, got %q", stderr)
			require.Contains(t, stderr, tc.want)
			require.NotContains(t, stderr, "goroutine")
		})
	}
}
