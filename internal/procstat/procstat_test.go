package procstat

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStatCPU(t *testing.T) {
	// utime 250 and stime 50 ticks; a comm with spaces and a ')' must not confuse it.
	s := "42 (a) b) S 1 1 1 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10"
	got, err := parseStatCPU(s)
	require.NoError(t, err)
	require.InDelta(t, 3.0, got, 1e-9)
	_, err = parseStatCPU("42 (a) S 1")
	require.ErrorIs(t, err, ErrFormat)
}

func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS([]byte("Name:\tx\nVmRSS:\t  2048 kB\nThreads: 3\n"))
	require.NoError(t, err)
	require.Equal(t, uint64(2048*1024), got)
	_, err = parseVmRSS([]byte("Name:\tx\n"))
	require.ErrorIs(t, err, ErrFormat)
}

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	rss, err := RSSBytes(pid)
	require.NoError(t, err)
	require.Greater(t, rss, uint64(1<<20))
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	n, err := OpenFiles(pid)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 4) // stdio and the file above
	_, err = CPUSeconds(pid)
	require.NoError(t, err)
	_, err = RSSBytes(1 << 30)
	require.Error(t, err)
}
