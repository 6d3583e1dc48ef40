package main

import (
	"fmt"
	"image/color"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// series is one line of a panel.
type series struct {
	name  string
	get   func(sample) float64
	color color.Color
	dash  bool
}

var (
	blue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	orange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	green  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	red    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	shade  = color.RGBA{R: 220, G: 220, B: 220, A: 255}
)

// plainTicks are plot.DefaultTicks labelled without trailing zeros.
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', -1, 64)
		}
	}
	return ticks
}

// drawPlot draws one panel per metric, stacked over a common time axis
// (minutes from the first sample), with the start and end windows shaded
// and the load's beginning and end as dashed lines.
func drawPlot(file string, rows []sample, s *summary) error {
	panels := []struct {
		title string
		lines []series
	}{
		{"memory (MiB)", []series{{"RSS", func(r sample) float64 { return r.RSSMiB }, blue, false},
			{"heap in use", func(r sample) float64 { return r.HeapMiB }, orange, true}}},
		{"goroutines", []series{{"goroutines", func(r sample) float64 { return r.Goroutines }, blue, false}}},
		{"open file descriptors", []series{{"fds", func(r sample) float64 { return r.FDs }, blue, false}}},
		{"rooms, peers, producers", []series{{"peers", func(r sample) float64 { return r.Peers }, blue, false},
			{"producers", func(r sample) float64 { return r.Producers }, green, true},
			{"rooms", func(r sample) float64 { return r.Rooms }, red, false}}},
	}
	t0 := rows[0].T
	minutes := func(r sample) float64 { return r.T.Sub(t0).Minutes() }
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.Title.TextStyle.Font.Size = vg.Points(13)
		p.Y.Min = 0
		p.Y.Tick.Marker = plainTicks{}
		if i == len(panels)-1 {
			p.X.Label.Text = "minutes (shaded: start and end windows; dashed: load begins and ends)"
		}
		p.Add(plotter.NewGrid())
		ymax := 1.0
		for _, ln := range pn.lines {
			for _, r := range rows {
				ymax = max(ymax, ln.get(r))
			}
		}
		ymax *= 1.08
		p.Y.Max = ymax
		for _, w := range [][]sample{s.Start, s.End} {
			x0, x1 := minutes(w[0])-0.08, minutes(w[len(w)-1])+0.08
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: ymax}, {X: x0, Y: ymax}})
			if err != nil {
				return err
			}
			poly.Color, poly.LineStyle.Width = shade, 0
			p.Add(poly)
		}
		for _, x := range []float64{s.LoadStart.Sub(t0).Minutes(), s.LoadEnd.Sub(t0).Minutes()} {
			l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax}})
			if err != nil {
				return err
			}
			l.Color, l.Dashes = color.Gray{Y: 120}, []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(l)
		}
		for _, ln := range pn.lines {
			xy := make(plotter.XYs, len(rows))
			for j, r := range rows {
				xy[j] = plotter.XY{X: minutes(r), Y: ln.get(r)}
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return err
			}
			l.Color, l.Width = ln.color, vg.Points(1.5)
			if ln.dash {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(2)}
			}
			p.Add(l)
			if len(pn.lines) > 1 {
				p.Legend.Add(ln.name, l)
			}
		}
		p.Legend.Top = true // top right: the lines are low there at the end
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.NewWith(vgimg.UseWH(11*vg.Inch, 12*vg.Inch), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 3 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 5 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("png: %w", err)
	}
	return f.Close()
}
