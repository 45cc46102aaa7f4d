package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// chartLine is how one scenario is drawn: a colour per way of serving the page (REST, GraphQL,
// the floor), solid for pages of 20 and dashed for pages of 100, so both axes of the
// comparison read at a glance.
type chartLine struct {
	scenario string
	color    string
	dashed   bool
}

var chartLines = []chartLine{
	{rest20, "#1f77b4", false},
	{graphQL20, "#d65f00", false},
	{floor20, "#555555", false},
	{rest100, "#1f77b4", true},
	{graphQL100, "#d65f00", true},
	{floor100, "#555555", true},
	{floorRows20, "#aaaaaa", false},
	{floorRows100, "#aaaaaa", true},
}

// The chart's size and margins, in SVG user units (pixels).
const (
	chartWidth, chartHeight         = 768, 480
	chartLeft, chartRight, chartTop = 64, 24, 40
	chartBottom                     = 48
	chartTicks                      = 5
	chartFont                       = "font-family=\"sans-serif\" font-size=\"12\""
)

// writeChart draws p50 latency against concurrency, a line per scenario, as SVG: written by
// hand, so that the benchmark needs no plotting library (nor its fonts) in the module.
func writeChart(path string, r *report) error {
	levels := r.Opts.Concurrency
	if len(levels) == 0 {
		return nil
	}
	// Concurrency grows by factors (1, 8, 32): a log axis spaces the levels evenly.
	lo, hi := math.Log(float64(levels[0])), math.Log(float64(levels[len(levels)-1]))
	x := func(c int) float64 {
		if hi == lo {
			return chartLeft + (chartWidth-chartLeft-chartRight)/2
		}
		return chartLeft + (math.Log(float64(c))-lo)/(hi-lo)*(chartWidth-chartLeft-chartRight)
	}
	maxMS := 0.0
	for _, l := range chartLines {
		for _, c := range levels {
			if m := r.find(l.scenario, c); m != nil {
				maxMS = max(maxMS, ms(m.P50))
			}
		}
	}
	step := niceStep(maxMS / chartTicks)
	top := step * math.Ceil(maxMS/step)
	if top == 0 {
		top = 1
	}
	y := func(v float64) float64 {
		return chartHeight - chartBottom - v/top*(chartHeight-chartTop-chartBottom)
	}

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, chartWidth, chartHeight, chartWidth, chartHeight)
	p(`<rect width="100%%" height="100%%" fill="white"/>`)
	title := "p50 latency by concurrency (" + r.Data.Database + ": busiest vendor, " + strconv.FormatInt(r.Data.BusiestConversations, 10) + " conversations)"
	p(`<text x="%d" y="24" text-anchor="middle" %s font-size="14">%s</text>`, chartWidth/2, chartFont, html.EscapeString(title))
	for v := 0.0; v <= top+step/2; v += step {
		p(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#dddddd"/>`, chartLeft, chartWidth-chartRight, y(v), y(v))
		p(`<text x="%d" y="%.1f" text-anchor="end" %s>%s</text>`, chartLeft-6, y(v)+4, chartFont, strconv.FormatFloat(v, 'f', -1, 64))
	}
	for _, c := range levels {
		p(`<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#dddddd"/>`, x(c), x(c), chartTop, chartHeight-chartBottom)
		p(`<text x="%.1f" y="%d" text-anchor="middle" %s>%d</text>`, x(c), chartHeight-chartBottom+16, chartFont, c)
	}
	p(`<text x="%d" y="%d" text-anchor="middle" %s>concurrent clients</text>`, (chartLeft+chartWidth-chartRight)/2, chartHeight-10, chartFont)
	p(`<text transform="translate(16 %d) rotate(-90)" text-anchor="middle" %s>p50 latency (ms)</text>`, (chartTop+chartHeight-chartBottom)/2, chartFont)
	legend := 0
	for _, l := range chartLines {
		var points [][2]float64
		var coords []string
		for _, c := range levels {
			if m := r.find(l.scenario, c); m != nil {
				pt := [2]float64{x(c), y(ms(m.P50))}
				points = append(points, pt)
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", pt[0], pt[1]))
			}
		}
		if len(points) == 0 {
			continue
		}
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="6 3"`
		}
		p(`<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>`, l.color, dash, strings.Join(coords, " "))
		for _, pt := range points {
			p(`<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, pt[0], pt[1], l.color)
		}
		ly := chartTop + 12 + legend*16
		p(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="1.5"%s/>`, chartLeft+12, chartLeft+36, ly, ly, l.color, dash)
		p(`<text x="%d" y="%d" %s>%s</text>`, chartLeft+42, ly+4, chartFont, l.scenario)
		legend++
	}
	p(`</svg>`)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// niceStep rounds a tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*pow {
			return m * pow
		}
	}
	return 10 * pow
}
