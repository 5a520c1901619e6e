package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/testenv"
)

// TestServeOnAFullDisk: a data_dir with no space left stops serve at start
// with a configuration error that says so, single-node and in a cluster
// (where the server's id would be written), and nothing is left half-written.
func TestServeOnAFullDisk(t *testing.T) {
	t.Parallel()
	for name, extra := range map[string][]string{
		"single node": nil,
		"cluster":     {"--amqp-url", "amqp://guest:guest@127.0.0.1:1/"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := testenv.FullDisk(t)
			args := append([]string{"serve", "--http-addr", "127.0.0.1:0", "--data-dir", dir}, extra...)
			cmd := exec.Command(binary, args...)
			cmd.Env = append(os.Environ(), "VOICECTL_AUTH_SECRET="+lgSecret)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "%s", out)
			require.Equal(t, 3, ee.ExitCode(), "a configuration error: %s", out)
			require.Contains(t, string(out), "data_dir")
			require.Contains(t, string(out), "no space left on device")
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			require.Equal(t, []string{"filler"}, names, "nothing half-written: %s", strings.Join(names, ", "))
		})
	}
}
