package soakplot

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/loadgen"
)

func TestWriteDrawsAPNGOfEveryPanel(t *testing.T) {
	samples := make([]loadgen.SoakSample, 30)
	for i := range samples {
		samples[i] = loadgen.SoakSample{Seconds: float64(i * 10), Peers: 32, ServerRSS: 30 << 20, ServerGoroutines: 200,
			WorkersRSS: 60 << 20, WorkersGoroutines: 30, ServerAllocsPerS: 5000, WorkersAllocsPerS: 100}
	}
	var img bytes.Buffer
	require.NoError(t, Write(&img, samples, []loadgen.SoakKill{{AtSeconds: 120, Worker: 0}}))
	cfg, err := png.DecodeConfig(&img)
	require.NoError(t, err)
	require.Greater(t, cfg.Width, 500)
	require.Greater(t, cfg.Height, 200)
}

func TestWriteWithoutSamplesDrawsEmptyPanels(t *testing.T) {
	// A soak stopped before its first sample still gets its PNG (the
	// report's other files are written either way).
	var img bytes.Buffer
	require.NoError(t, Write(&img, nil, nil))
	cfg, err := png.DecodeConfig(&img)
	require.NoError(t, err)
	require.Greater(t, cfg.Width, 500)
}
