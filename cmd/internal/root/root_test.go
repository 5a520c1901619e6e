package root

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
	"github.com/voicectl/voicectl/server/auth"
)

func run(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{
		IO:         &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Version:    "test",
		Executable: os.Executable,
		Environ:    func() []string { return env },
	}
	cmd := NewCmdRoot(f)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// Shells whose completion scripts are committed under completions/.
var shells = map[string]string{"bash": "voicectl.bash", "zsh": "_voicectl", "fish": "voicectl.fish", "powershell": "voicectl.ps1"}

func TestCommittedCompletionsAreCurrent(t *testing.T) {
	for shell, file := range shells {
		t.Run(shell, func(t *testing.T) {
			got, _, err := run(t, nil, "completion", shell)
			require.NoError(t, err)
			want, err := os.ReadFile(filepath.Join("..", "..", "..", "completions", file))
			require.NoError(t, err, "run `make completions`")
			require.Equal(t, string(want), got, "completions/%s is stale: run `make completions`", file)
		})
	}
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, nil, "version")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "voicectl test ("), out)
}

func TestTokenCreate(t *testing.T) {
	secret := "0123456789abcdef-cli"
	out, _, err := run(t, []string{"VOICECTL_AUTH_SECRET=" + secret}, "token", "create", "--room", "standup", "--identity", "alice", "--no-publish", "--ttl", "2h")
	require.NoError(t, err)
	g, err := auth.Verify([]byte(secret), strings.TrimSpace(out))
	require.NoError(t, err)
	require.Equal(t, "standup", g.Room)
	require.Equal(t, "alice", g.Identity)
	require.False(t, g.Publish)

	out, _, err = run(t, nil, "token", "create", "--room", "r", "--identity", "i", "--secret", secret)
	require.NoError(t, err)
	g, err = auth.Verify([]byte(secret), strings.TrimSpace(out))
	require.NoError(t, err)
	require.True(t, g.Publish)
}

func TestExitCodes(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./voicectl.yaml
	_, _, err := run(t, nil, "token", "create", "--room", "r", "--identity", "i")
	require.Error(t, err)
	require.Equal(t, cmdutil.ExitConfig, cmdutil.ExitCode(err))
	require.Contains(t, err.Error(), "auth.secret")

	_, _, err = run(t, nil, "token", "create", "--room", "r")
	require.Error(t, err)
	require.Contains(t, err.Error(), "identity")

	_, _, err = run(t, nil, "serve", "--rtc-port", "x")
	require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(err))

	_, _, err = run(t, []string{"VOICECTL_NOPE=1"}, "serve", "--dev")
	require.Equal(t, cmdutil.ExitConfig, cmdutil.ExitCode(err))
	require.Contains(t, err.Error(), "VOICECTL_NOPE")

	_, _, err = run(t, nil, "serve")
	require.Equal(t, cmdutil.ExitConfig, cmdutil.ExitCode(err))
	require.Contains(t, err.Error(), "auth.secret")
}
