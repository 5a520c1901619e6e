package loadgencmd

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/client"
	"github.com/voicectl/voicectl/cmd/internal/cmdutil"
)

func runFactory() *cmdutil.Factory {
	return &cmdutil.Factory{
		IO:         &cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}},
		Environ:    func() []string { return []string{"VOICECTL_AUTH_SECRET=0123456789abcdef0123"} },
		HTTPClient: func() *http.Client { return &http.Client{} },
		Now:        time.Now,
	}
}

func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.Execute()
}

func TestRunTransportFlag(t *testing.T) {
	var got *RunOptions
	capture := func(o *RunOptions) error { got = o; return nil }
	for _, name := range []string{"udp", "tcp", "turn-udp", "turn-tcp", "turn-tls"} {
		got = nil
		require.NoError(t, execute(NewCmdRun(runFactory(), capture), "--transport", name))
		require.Equal(t, client.Transport(name), got.Scenario.Transport)
	}

	// Unset: ICE picks.
	got = nil
	require.NoError(t, execute(NewCmdRun(runFactory(), capture)))
	require.Equal(t, client.Transport(""), got.Scenario.Transport)

	err := execute(NewCmdRun(runFactory(), func(*RunOptions) error { t.Fatal("runF with a bad --transport"); return nil }), "--transport", "quic")
	require.ErrorContains(t, err, "want one of udp, tcp, turn-udp, turn-tcp, turn-tls")
}

func TestRunTransportFromScenarioAndFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "scenario.yaml")
	require.NoError(t, os.WriteFile(file, []byte("transport: turn-tls\nlisteners: 3\n"), 0o600))
	var got *RunOptions
	capture := func(o *RunOptions) error { got = o; return nil }
	require.NoError(t, execute(NewCmdRun(runFactory(), capture), "--scenario", file))
	require.Equal(t, client.TransportTURNTLS, got.Scenario.Transport)
	require.NoError(t, execute(NewCmdRun(runFactory(), capture), "--scenario", file, "--transport", "tcp"))
	require.Equal(t, client.TransportTCP, got.Scenario.Transport, "the flag wins over the file")

	require.NoError(t, os.WriteFile(file, []byte("transport: sctp\n"), 0o600))
	err := execute(NewCmdRun(runFactory(), capture), "--scenario", file)
	require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(err))
	require.ErrorContains(t, err, `transport "sctp"`)
}
