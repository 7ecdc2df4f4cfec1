// Package plot draws the paper's figures as PNG images with gonum's plot
// package, from the JSON that `netc eval --json` and `netc stats --json`
// print: accuracy vs PGD iterations (Fig. 2/3), robust and clean accuracy
// vs the ratio of clean images (Fig. 1) or vs depth (Fig. 7), and the
// per-channel statistics of one BN layer (Fig. 5, 6).
package plot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/eval"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Eval is one `netc eval --json` output.
type Eval struct {
	Checkpoint string `json:"checkpoint"`
	Data       string `json:"data"`
	eval.Result
}

// Robust is the accuracy at the largest PGD iteration count and that count.
func (e *Eval) Robust() (acc float64, iters int) {
	for _, p := range e.Curve {
		if p.Iters > iters {
			acc, iters = p.Accuracy, p.Iters
		}
	}
	return acc, iters
}

// ReadEval reads a `netc eval --json` output: one evaluation per attack
// in it. Its errors name the file.
func ReadEval(path string) ([]*Eval, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	var raw json.RawMessage
	if _, err := readJSON(path, b, &raw); err != nil {
		return nil, err
	}
	r, err := eval.DecodeReport(path, raw)
	if err != nil {
		return nil, err
	}
	if len(r.Attacks) == 0 {
		return nil, fmt.Errorf("%s: a clean-only evaluation (--pgd 0): no PGD curve to draw", path)
	}
	var out []*Eval
	for _, res := range r.Results() {
		out = append(out, &Eval{Checkpoint: r.Checkpoint, Data: r.Data, Result: *res})
	}
	return out, nil
}

// ReadStats reads a `netc stats --json` output; its errors name the file.
func ReadStats(path string) (*diag.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		return nil, fmt.Errorf("%s: an array, not a `netc stats --json` output", path)
	}
	var probe struct {
		Curve   json.RawMessage `json:"pgd"`
		Attacks json.RawMessage `json:"attacks"`
	}
	if _, err := readJSON(path, b, &probe); err != nil {
		return nil, err
	}
	if probe.Curve != nil || probe.Attacks != nil {
		return nil, fmt.Errorf("%s: a `netc eval` output, not a `netc stats --json` one", path)
	}
	var r diag.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &r, nil
}

// readJSON decodes the one JSON value of file path's contents b into v
// and returns b.
func readJSON(path string, b []byte, v any) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file, want a JSON object", path)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(b, se.Offset)
			return nil, fmt.Errorf("%s:%d:%d: not JSON: %v", path, line, col, err)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value", path)
	}
	return b, nil
}

// position is the line and column of byte offset off (1-based).
func position(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for _, c := range b[:min(int(off), len(b))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Options are a figure's labels and size.
type Options struct {
	Title  string
	XLabel string    // default: the figure's
	YLabel string    // default: the figure's
	Width  vg.Length // default 16 cm
	Height vg.Length // default 10 cm (per panel for Stats)
}

func (o Options) size(panels int) (vg.Length, vg.Length) {
	w, h := o.Width, o.Height
	if w <= 0 {
		w = 16 * vg.Centimeter
	}
	if h <= 0 {
		h = 10 * vg.Centimeter
	}
	return w, h * vg.Length(panels)
}

// Series is one model's evaluation and its legend label.
type Series struct {
	Label string
	Eval  *Eval
}

// Curve draws accuracy (%) vs PGD iterations on a log axis, one line per
// series, its clean accuracy in the legend (the paper's Fig. 2 and 3).
func Curve(w io.Writer, series []Series, o Options) error {
	if len(series) == 0 {
		return errors.New("plot: no evaluations to draw")
	}
	p := newPlot(o, "PGD iterations", "accuracy (%)")
	p.X.Scale = gplot.LogScale{}
	var iters []float64
	for i, s := range series {
		if len(s.Eval.Curve) == 0 {
			return fmt.Errorf("plot: %s has no PGD curve", s.Label)
		}
		pts := make(plotter.XYs, len(s.Eval.Curve))
		for j, pt := range s.Eval.Curve {
			pts[j] = plotter.XY{X: float64(pt.Iters), Y: 100 * pt.Accuracy}
			iters = append(iters, float64(pt.Iters))
		}
		slices.SortFunc(pts, func(a, b plotter.XY) int { return cmpFloat(a.X, b.X) })
		if err := addLine(p, pts, i, false, fmt.Sprintf("%s (clean %.1f%%)", s.Label, 100*s.Eval.Clean)); err != nil {
			return err
		}
	}
	slices.Sort(iters)
	iters = slices.Compact(iters)
	if len(iters) <= 12 {
		var ticks gplot.ConstantTicks
		for _, k := range iters {
			ticks = append(ticks, gplot.Tick{Value: k, Label: strconv.Itoa(int(k))})
		}
		p.X.Tick.Marker = ticks
	} else {
		p.X.Tick.Marker = gplot.LogTicks{Prec: -1}
	}
	if len(iters) == 1 { // a log axis needs a range
		p.X.Min, p.X.Max = iters[0]/2, iters[0]*2
	} else {
		p.X.Min, p.X.Max = iters[0]/1.2, iters[len(iters)-1]*1.2
	}
	percentAxis(p, len(series))
	return writePNG(w, p, o)
}

// Point is one model at position X of a Ratio or Depth figure.
type Point struct {
	X    float64
	Eval *Eval
}

// Ratio draws robust accuracy (at each evaluation's largest PGD count)
// and clean accuracy vs the ratio of clean images in training (the
// paper's Fig. 1).
func Ratio(w io.Writer, pts []Point, o Options) error {
	return accuracyVsX(w, pts, o, "ratio of clean images")
}

// Depth draws clean and robust accuracy (at each evaluation's largest
// PGD count) vs depth, or multiply-adds with XLabel saying so (the
// paper's Fig. 7).
func Depth(w io.Writer, pts []Point, o Options) error {
	return accuracyVsX(w, pts, o, "depth")
}

func accuracyVsX(w io.Writer, pts []Point, o Options, xlabel string) error {
	if len(pts) == 0 {
		return errors.New("plot: no evaluations to draw")
	}
	p := newPlot(o, xlabel, "accuracy (%)")
	pts = slices.Clone(pts)
	slices.SortStableFunc(pts, func(a, b Point) int { return cmpFloat(a.X, b.X) })
	clean := make(plotter.XYs, len(pts))
	robust := make(plotter.XYs, len(pts))
	var counts []int
	for i, pt := range pts {
		if math.IsNaN(pt.X) || math.IsInf(pt.X, 0) {
			return fmt.Errorf("plot: x value %g", pt.X)
		}
		acc, k := pt.Eval.Robust()
		if k == 0 {
			return fmt.Errorf("plot: the evaluation at x = %g has no PGD curve", pt.X)
		}
		counts = append(counts, k)
		clean[i] = plotter.XY{X: pt.X, Y: 100 * pt.Eval.Clean}
		robust[i] = plotter.XY{X: pt.X, Y: 100 * acc}
	}
	label := fmt.Sprintf("PGD-%d", counts[0])
	if slices.Min(counts) != slices.Max(counts) {
		label = "PGD (largest count of each)"
	}
	if err := addLine(p, clean, 0, false, "clean"); err != nil {
		return err
	}
	if err := addLine(p, robust, 1, false, label); err != nil {
		return err
	}
	if clean[0].X == clean[len(clean)-1].X {
		p.X.Min, p.X.Max = clean[0].X-1, clean[0].X+1
	}
	if len(pts) <= 12 { // a tick at every model
		var ticks gplot.ConstantTicks
		for i, xy := range clean {
			if i == 0 || xy.X != clean[i-1].X {
				ticks = append(ticks, gplot.Tick{Value: xy.X, Label: strconv.FormatFloat(xy.X, 'g', 4, 64)})
			}
		}
		p.X.Tick.Marker = ticks
	}
	percentAxis(p, 2)
	return writePNG(w, p, o)
}

// Stats draws the per-channel running mean (top panel) and variance
// (bottom panel) of BN layer `layer` of a `netc stats` report, one line
// per branch (MBN: clean and adversarial, the paper's Fig. 5), and the
// batch statistics as dashed lines when the report has them (Fig. 6).
func Stats(w io.Writer, r *diag.Report, layer string, o Options) error {
	var ls []diag.Layer
	var names []string
	for _, l := range r.Layers {
		if !slices.Contains(names, l.Layer) {
			names = append(names, l.Layer)
		}
		if l.Layer == layer {
			ls = append(ls, l)
		}
	}
	if layer == "" && len(names) == 1 {
		return Stats(w, r, names[0], o)
	}
	switch {
	case len(ls) > 0:
	case layer == "":
		return fmt.Errorf("statistics of %d layers: name one (%s)", len(names), strings.Join(names, ", "))
	default:
		return fmt.Errorf("no layer %q in the statistics (layers: %s)", layer, strings.Join(names, ", "))
	}
	title := o.Title
	if title == "" {
		title = fmt.Sprintf("%s: %s", r.Model, layer)
		if ls[0].BatchMean != nil {
			title += fmt.Sprintf(" (batch statistics: %d %s test images)", r.Images, r.ImageKind())
		}
	}
	panels := make([]*gplot.Plot, 2)
	for k, what := range []string{"mean", "variance"} {
		po := o
		po.Title = ""
		if k == 0 {
			po.Title = title
		}
		p := newPlot(po, "channel", what)
		entries := 0
		for i, l := range ls {
			run, batch := l.RunningMean, l.BatchMean
			if k == 1 {
				run, batch = l.RunningVar, l.BatchVar
			}
			suffix := ", " + l.Branch
			if l.Branch == diag.BranchBN {
				suffix = ""
			}
			if err := addLine(p, channelXYs(run), i, false, "running"+suffix); err != nil {
				return err
			}
			entries++
			if batch != nil {
				if err := addLine(p, channelXYs(batch), len(ls)+i, true, "batch"+suffix); err != nil {
					return err
				}
				entries++
			}
		}
		headroom(p, entries)
		panels[k] = p
	}
	width, height := o.size(2)
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadX: vg.Millimeter, PadY: 2 * vg.Millimeter}
	canvases := gplot.Align([][]*gplot.Plot{{panels[0]}, {panels[1]}}, tiles, dc)
	panels[0].Draw(canvases[0][0])
	panels[1].Draw(canvases[1][0])
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

func channelXYs(v []float32) plotter.XYs {
	xy := make(plotter.XYs, len(v))
	for i, y := range v {
		xy[i] = plotter.XY{X: float64(i), Y: float64(y)}
	}
	return xy
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func newPlot(o Options, xlabel, ylabel string) *gplot.Plot {
	p := gplot.New()
	p.Title.Text = o.Title
	p.X.Label.Text = xlabel
	if o.XLabel != "" {
		p.X.Label.Text = o.XLabel
	}
	p.Y.Label.Text = ylabel
	if o.YLabel != "" {
		p.Y.Label.Text = o.YLabel
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

// addLine adds a line with markers in the i-th color and shape (dashed
// if dashed) and its legend entry.
func addLine(p *gplot.Plot, xy plotter.XYs, i int, dashed bool, label string) error {
	for _, pt := range xy {
		if math.IsNaN(pt.Y) || math.IsInf(pt.Y, 0) {
			return fmt.Errorf("plot: %s: value %g", label, pt.Y)
		}
	}
	l, s, err := plotter.NewLinePoints(xy)
	if err != nil {
		return fmt.Errorf("plot: %s: %v", label, err)
	}
	l.Color = plotutil.Color(i)
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	s.Color = plotutil.Color(i)
	s.Shape = plotutil.Shape(i)
	s.Radius = vg.Points(2.5)
	if len(xy) > 64 { // channels: markers would hide the lines
		s.Radius = 0
	}
	p.Add(l, s)
	p.Legend.Add(label, l, s)
	return nil
}

// percentAxis fixes the y axis to 0..100 % with room above for the
// legend's entries.
func percentAxis(p *gplot.Plot, entries int) {
	p.Y.Min = 0
	p.Y.Max = 100 + 8*float64(entries)
	var ticks gplot.ConstantTicks
	for v := 0; v <= 100; v += 10 {
		t := gplot.Tick{Value: float64(v)}
		if v%20 == 0 {
			t.Label = strconv.Itoa(v)
		}
		ticks = append(ticks, t)
	}
	p.Y.Tick.Marker = ticks
}

// headroom raises the y axis's top to leave room for the legend.
func headroom(p *gplot.Plot, entries int) {
	span := p.Y.Max - p.Y.Min
	if span == 0 {
		span = math.Max(math.Abs(p.Y.Max), 1)
		p.Y.Min -= span / 2
	}
	p.Y.Max += span * 0.12 * float64(entries)
}

func writePNG(w io.Writer, p *gplot.Plot, o Options) error {
	width, height := o.size(1)
	wt, err := p.WriterTo(width, height, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
