package loadgen

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteSoakCSV writes the samples, one row each, under soakColumns.
func WriteSoakCSV(w io.Writer, samples []SoakSample) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(soakColumns); err != nil {
		return err
	}
	for _, s := range samples {
		if err := cw.Write(s.row()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// soakPanels are the plot's panels: each a figure for the server and one for
// the workers, over the soak's minutes, with the kills marked.
var soakPanels = []struct {
	title, unit     string
	server, workers func(SoakSample) float64
}{
	{"resident memory", "MiB", func(s SoakSample) float64 { return float64(s.ServerRSS) / (1 << 20) },
		func(s SoakSample) float64 { return float64(s.WorkersRSS) / (1 << 20) }},
	{"goroutines", "", func(s SoakSample) float64 { return float64(s.ServerGoroutines) },
		func(s SoakSample) float64 { return float64(s.WorkersGoroutines) }},
	{"open files", "", func(s SoakSample) float64 { return float64(s.ServerOpenFiles) },
		func(s SoakSample) float64 { return float64(s.WorkersOpenFiles) }},
	{"live heap", "MiB", func(s SoakSample) float64 { return float64(s.ServerHeap) / (1 << 20) },
		func(s SoakSample) float64 { return float64(s.WorkersHeap) / (1 << 20) }},
	{"heap allocations", "objects/s", func(s SoakSample) float64 { return s.ServerAllocsPerS },
		func(s SoakSample) float64 { return s.WorkersAllocsPerS }},
}

// WriteSoakPlot draws the samples as a PNG: one panel per figure, the
// control process and the workers (added up) as two lines, and a vertical
// line at each worker kill.
func WriteSoakPlot(w io.Writer, samples []SoakSample, kills []SoakKill) error {
	const cols, rows = 3, 2
	img := vgimg.New(42*vg.Centimeter, 20*vg.Centimeter)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Centimeter, PadY: vg.Centimeter,
		PadTop: vg.Millimeter * 5, PadBottom: vg.Millimeter * 5, PadLeft: vg.Millimeter * 5, PadRight: vg.Millimeter * 5}
	for i, panel := range soakPanels {
		p := plot.New()
		p.Title.Text = panel.title
		p.X.Label.Text = "minutes"
		p.Y.Label.Text = panel.unit
		p.Y.Min = 0
		for j, line := range []struct {
			name string
			get  func(SoakSample) float64
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
