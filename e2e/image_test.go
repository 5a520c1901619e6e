package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/testenv"
)

// image is what `make image` tags.
const image = "localhost/voicectl:latest"

// podman runs podman with runc: crun refuses this machine's hybrid cgroups.
func podman(args ...string) *exec.Cmd {
	return exec.Command("podman", append([]string{"--runtime", "runc"}, args...)...)
}

// TestContainerImageServesAndForwards runs the image `make image` built
// (make test builds it first), with podman on the test namespace's
// loopback (--network host there: nothing else), as an unprivileged user:
// it serves /healthz and /readyz, and a loadgen run through it gets audio
// with no loss.
func TestContainerImageServesAndForwards(t *testing.T) {
	t.Parallel()
	testenv.RequireLoopbackOnly(t)
	_, err := exec.LookPath("podman")
	require.NoError(t, err, "podman is needed (make test-deps installs it)")
	if podman("image", "exists", image).Run() != nil {
		out, err := exec.Command("make", "-C", "..", "image").CombinedOutput()
		require.NoError(t, err, "make image: %s", out)
	}
	out, err := podman("image", "inspect", "--format", "{{.Size}} {{.Config.User}} {{index .Config.Labels \"org.opencontainers.image.version\"}}", image).CombinedOutput()
	require.NoError(t, err, string(out))
	fields := strings.Fields(string(out))
	require.Len(t, fields, 3, string(out))
	require.Equal(t, "65532:65532", fields[1], "runs as a non-root user")
	require.NotEmpty(t, fields[2], "labelled with its version")
	t.Logf("image %s: %s bytes, version %s", image, fields[0], fields[2])

	name := fmt.Sprintf("voicectl-e2e-%d", os.Getpid())
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	start := time.Now()
	out, err = podman("run", "-d", "--rm", "--name", name, "--network", "host",
		"-e", "VOICECTL_AUTH_SECRET="+lgSecret, "-e", "VOICECTL_AUTH_ADMIN_KEY="+lgAdminKey,
		image, "serve", "--http-addr", fmt.Sprintf("127.0.0.1:%d", port), "--rtc-port", fmt.Sprint(rtcPorts(t)), "--workers", "1").CombinedOutput()
	require.NoError(t, err, string(out))
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := podman("logs", name).CombinedOutput()
			t.Logf("container logs:\n%s", logs)
		}
		_ = podman("rm", "-f", "-t", "3", name).Run()
	})
	require.Eventually(t, func() bool { return readyStatus(t, base) == http.StatusOK }, 30*time.Second, 20*time.Millisecond, "the container gets ready")
	t.Logf("container start to /readyz 200: %s", time.Since(start).Round(time.Millisecond))
	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	env := []string{"VOICECTL_ADMIN_URL=" + base, "VOICECTL_AUTH_SECRET=" + lgSecret, "VOICECTL_AUTH_ADMIN_KEY=" + lgAdminKey}
	lg, stderr, code := cli(t, env, "loadgen", "run", "--loopback-only", "--rooms", "1", "--publishers", "1", "--listeners", "2",
		"--duration", "2s", "--warmup", "1s", "-o", "json", "--max-loss", "0.001")
	require.Zero(t, code, stderr)
	r := loadReport(t, lg)
	require.Equal(t, 3, r.PeersJoined)
	require.Positive(t, r.PacketsReceived, "audio through the container")
	require.Positive(t, r.ForwardedPackets, "its admin API answers")
}
