package main

import (
	"image/color"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// chartLine is how one scenario is drawn: a colour per way of serving the page (REST, GraphQL,
// the floor), solid for pages of 20 and dashed for pages of 100, so both axes of the
// comparison read at a glance.
type chartLine struct {
	scenario string
	color    color.Color
	dashed   bool
}

var chartLines = []chartLine{
	{rest20, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, false},
	{graphQL20, color.RGBA{R: 0xd6, G: 0x5f, B: 0x00, A: 0xff}, false},
	{floor20, color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}, false},
	{rest100, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, true},
	{graphQL100, color.RGBA{R: 0xd6, G: 0x5f, B: 0x00, A: 0xff}, true},
	{floor100, color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}, true},
}

// writeChart draws p50 latency against concurrency, a line per scenario, as SVG.
func writeChart(path string, r *report) error {
	p := plot.New()
	p.Title.Text = "p50 latency by concurrency (" + r.Data.Database + ": busiest vendor, " +
		strconv.FormatInt(r.Data.BusiestConversations, 10) + " conversations)"
	p.X.Label.Text = "concurrent clients"
	p.Y.Label.Text = "p50 latency (ms)"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(-4)

	var ticks plot.ConstantTicks
	for _, c := range r.Opts.Concurrency {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	p.X.Tick.Marker = ticks
	// Concurrency grows by factors (1, 8, 32): a log axis spaces the levels evenly.
	if len(r.Opts.Concurrency) > 1 {
		p.X.Scale = plot.LogScale{}
	}

	for i, l := range chartLines {
		var xys plotter.XYs
		for _, c := range r.Opts.Concurrency {
			if m := r.find(l.scenario, c); m != nil {
				xys = append(xys, plotter.XY{X: float64(c), Y: ms(m.P50)})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		line.Color = l.color
		line.Width = vg.Points(1.5)
		if l.dashed {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		points.Color = l.color
		points.Shape = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}}[i%3]
		points.Radius = vg.Points(2.5)
		p.Add(line, points)
		p.Legend.Add(l.scenario, line, points)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}
