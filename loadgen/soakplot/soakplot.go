// Package soakplot draws a soak's samples (loadgen.SoakReport) as a PNG for
// `voicectl loadgen soak --plot`. It is a package of its own so that the
// plotting library (gonum/plot, its fonts and image codecs) is compiled into
// the command only, not into every test binary that runs load.
package soakplot

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/voicectl/voicectl/loadgen"
)

// panels are the plot's panels: each a figure for the server and one for
// the workers, over the soak's minutes, with the kills marked.
var panels = []struct {
	title, unit     string
	server, workers func(loadgen.SoakSample) float64
}{
	{"resident memory", "MiB", func(s loadgen.SoakSample) float64 { return float64(s.ServerRSS) / (1 << 20) },
		func(s loadgen.SoakSample) float64 { return float64(s.WorkersRSS) / (1 << 20) }},
	{"goroutines", "", func(s loadgen.SoakSample) float64 { return float64(s.ServerGoroutines) },
		func(s loadgen.SoakSample) float64 { return float64(s.WorkersGoroutines) }},
	{"open files", "", func(s loadgen.SoakSample) float64 { return float64(s.ServerOpenFiles) },
		func(s loadgen.SoakSample) float64 { return float64(s.WorkersOpenFiles) }},
	{"live heap", "MiB", func(s loadgen.SoakSample) float64 { return float64(s.ServerHeap) / (1 << 20) },
		func(s loadgen.SoakSample) float64 { return float64(s.WorkersHeap) / (1 << 20) }},
	{"heap allocations", "objects/s", func(s loadgen.SoakSample) float64 { return s.ServerAllocsPerS },
		func(s loadgen.SoakSample) float64 { return s.WorkersAllocsPerS }},
}

// Write draws the samples as a PNG: one panel per figure, the
// control process and the workers (added up) as two lines, and a vertical
// line at each worker kill.
func Write(w io.Writer, samples []loadgen.SoakSample, kills []loadgen.SoakKill) error {
	const cols, rows = 3, 2
	img := vgimg.New(42*vg.Centimeter, 20*vg.Centimeter)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Centimeter, PadY: vg.Centimeter,
		PadTop: vg.Millimeter * 5, PadBottom: vg.Millimeter * 5, PadLeft: vg.Millimeter * 5, PadRight: vg.Millimeter * 5}
	for i, panel := range panels {
		p := plot.New()
		p.Title.Text = panel.title
		p.X.Label.Text = "minutes"
		p.Y.Label.Text = panel.unit
		p.Y.Min = 0
		for j, line := range []struct {
			name string
			get  func(loadgen.SoakSample) float64
			c    color.RGBA
		}{{"control", panel.server, color.RGBA{R: 31, G: 119, B: 180, A: 255}}, {"workers", panel.workers, color.RGBA{R: 214, G: 39, B: 40, A: 255}}} {
			pts := make(plotter.XYs, len(samples))
			for k, s := range samples {
				pts[k] = plotter.XY{X: s.Seconds / 60, Y: line.get(s)}
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", panel.title, err)
			}
			l.Color = line.c
			l.Width = vg.Points(1 + float64(j)*0.2)
			p.Add(l)
			p.Legend.Add(line.name, l)
		}
		ymax := max(p.Y.Max, 1) // Add has widened the axes to the lines
		for _, k := range kills {
			m, err := plotter.NewLine(plotter.XYs{{X: k.AtSeconds / 60, Y: 0}, {X: k.AtSeconds / 60, Y: ymax}})
			if err != nil {
				return err
			}
			m.Color = color.RGBA{R: 128, G: 128, B: 128, A: 255}
			m.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
			p.Add(m)
		}
		p.Legend.Top = true
		p.Draw(tiles.At(dc, i%cols, i/cols))
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
