package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// CDFPoint is one point of a latency distribution: the percentile and the
// latency at it, in API milliseconds.
type CDFPoint struct {
	Percentile float64 `json:"percentile"`
	APIms      float64 `json:"api_ms"`
}

// cdfPercentiles are the points kept of each run's latency distribution.
var cdfPercentiles = func() []float64 {
	var p []float64
	for i := 1; i <= 99; i++ {
		p = append(p, float64(i))
	}
	return append(p, 99.9, 100)
}()

func (h *histogram) cdf(scale float64) []CDFPoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h.TotalCount() == 0 {
		return nil
	}
	out := make([]CDFPoint, len(cdfPercentiles))
	for i, p := range cdfPercentiles {
		out[i] = CDFPoint{Percentile: p, APIms: round3(float64(h.h.ValueAtQuantile(p)) * scale / 1000)}
	}
	return out
}

// PlotReport draws a run report to path (.svg or .png): completion per
// strategy beside the model on a log scale, and, when the report has them,
// each strategy's per-job latency CDF.
func PlotReport(r *Report, path string) error {
	runs := medianRuns(r.Runs)
	if len(runs) == 0 {
		return fmt.Errorf("plot: the report has no runs")
	}
	comp := plot.New()
	comp.Title.Text = fmt.Sprintf("Completion per strategy: %s, %d jobs", r.Manifest.Scenario, r.Manifest.Jobs)
	comp.Y.Label.Text = "completion (API time, minutes, log scale)"
	comp.Y.Scale = plot.LogScale{}
	comp.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	measured, model := make(plotter.XYs, 0, len(runs)), make(plotter.XYs, 0, len(runs))
	names := make([]string, len(runs))
	for i, run := range runs {
		names[i] = run.Strategy
		if run.CompletionAPIs > 0 {
			measured = append(measured, plotter.XY{X: float64(i), Y: run.CompletionAPIs / 60})
		}
		if run.ModelAPIs > 0 {
			model = append(model, plotter.XY{X: float64(i), Y: run.ModelAPIs / 60})
		}
	}
	for i, series := range []struct {
		name string
		pts  plotter.XYs
		g    draw.GlyphDrawer
	}{{"measured", measured, draw.CircleGlyph{}}, {"model", model, draw.CrossGlyph{}}} {
		if len(series.pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(series.pts)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: plotutil.Color(i), Radius: vg.Points(5), Shape: series.g}
		comp.Add(sc)
		comp.Legend.Add(series.name, sc)
	}
	comp.Legend.Top = true
	comp.NominalX(names...)
	comp.X.Padding = vg.Points(20)
	plots := []*plot.Plot{comp}

	var lines []any
	for _, run := range runs {
		pts := make(plotter.XYs, len(run.LatencyCDF))
		for i, p := range run.LatencyCDF {
			pts[i] = plotter.XY{X: p.APIms / 1000, Y: p.Percentile}
		}
		if len(pts) > 0 {
			lines = append(lines, run.Strategy, pts)
		}
	}
	if len(lines) > 0 {
		cdf := plot.New()
		cdf.Title.Text = "Per-job latency CDF (API time)"
		cdf.X.Label.Text = "latency (API seconds)"
		cdf.Y.Label.Text = "percentile"
		if err := plotutil.AddLines(cdf, lines...); err != nil {
			return err
		}
		cdf.Legend.Top, cdf.Legend.Left = false, true
		cdf.Legend.XOffs = vg.Points(10)
		plots = append(plots, cdf)
	}
	return saveTiles(plots, path)
}

// PlotSweep draws the sweep curve to path: completion and error rate
// against the setting.
func PlotSweep(s *SweepReport, path string) error {
	if len(s.Points) == 0 {
		return fmt.Errorf("plot: the sweep has no points")
	}
	comp, errs := plot.New(), plot.New()
	comp.Title.Text = fmt.Sprintf("Sweep of %s (%s world, %d jobs)", s.Parameter, s.Manifest.Profile, s.Manifest.Jobs)
	comp.Y.Label.Text = "completion (API time, minutes)"
	errs.Y.Label.Text = "error rate (%)"
	names := make([]string, len(s.Points))
	cpts, mpts, epts := make(plotter.XYs, len(s.Points)), make(plotter.XYs, len(s.Points)), make(plotter.XYs, len(s.Points))
	for i, p := range s.Points {
		names[i] = p.Setting
		cpts[i] = plotter.XY{X: float64(i), Y: p.CompletionAPIs / 60}
		mpts[i] = plotter.XY{X: float64(i), Y: p.ModelAPIs / 60}
		epts[i] = plotter.XY{X: float64(i), Y: p.ErrorRate * 100}
	}
	if err := plotutil.AddLinePoints(comp, "measured completion", cpts, "model", mpts); err != nil {
		return err
	}
	if err := plotutil.AddLinePoints(errs, "error rate", epts); err != nil {
		return err
	}
	for _, p := range []*plot.Plot{comp, errs} {
		p.NominalX(names...)
		p.X.Label.Text = s.Parameter
		p.Legend.Top = true
	}
	return saveTiles([]*plot.Plot{comp, errs}, path)
}

// saveTiles draws plots one above the other into an SVG or PNG file.
func saveTiles(plots []*plot.Plot, path string) error {
	width, height := 18*vg.Centimeter, vg.Length(len(plots))*10*vg.Centimeter
	var canvas draw.Canvas
	var out io.WriterTo
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		c := vgsvg.New(width, height)
		canvas, out = draw.New(c), c
	case ".png":
		c := vgimg.New(width, height)
		canvas, out = draw.New(c), vgimg.PngCanvas{Canvas: c}
	default:
		return fmt.Errorf("plot %q: want a file ending .svg or .png", path)
	}
	rows := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		rows[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2, PadY: vg.Millimeter * 6}
	canvases := plot.Align(rows, tiles, canvas)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
	return writeFileAtomic(path, func(w io.Writer) error { _, err := out.WriteTo(w); return err })
}

// writeFileAtomic writes a file through a temporary file and a rename, so a
// crash leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".scrapebench-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteFileAtomic is writeFileAtomic for the command line.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	return writeFileAtomic(path, write)
}
