// Package plot draws the paper's figures as PNG images with gonum's plot
// package, from the JSON that `netc eval --json` and `netc stats --json`
// print: accuracy vs PGD iterations (Fig. 2/3), robust and clean accuracy
// vs the ratio of clean images (Fig. 1) or vs depth (Fig. 7), and the
// per-channel statistics of one BN layer (Fig. 5, 6).
package plot

import (
	"bytes"
	"cmp"
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
	"gonum.org/v1/plot/vg"
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
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
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
			return nil, fmt.Errorf("%s:%d:%d: not JSON: %w", path, line, col, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
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

// Options are a figure's title, labels and size.
type Options struct {
	Title  string    // default: the figure's own (each kind has one)
	XLabel string    // default: the figure's
	YLabel string    // default: the figure's
	Width  vg.Length // default 16 cm
	// Height is that of the plot (of each panel for Stats), default
	// 10 cm; the title and a legend below the plot add to it.
	Height vg.Length
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

func (o Options) title(def string) string {
	if o.Title != "" {
		return o.Title
	}
	return def
}

// Series is one model's evaluation and its legend label.
type Series struct {
	Label string
	Eval  *Eval
}

// Curve draws accuracy (%) vs PGD iterations on a log axis, one line per
// series, its clean accuracy in the legend (the paper's Fig. 2 and 3).
func Curve(w io.Writer, series []Series, o Options) error {
	f, err := curveFigure(series, o)
	if err != nil {
		return err
	}
	return f.write(w, o)
}

func curveFigure(series []Series, o Options) (*figure, error) {
	if len(series) == 0 {
		return nil, errors.New("plot: no evaluations to draw")
	}
	f := &figure{title: o.title("Accuracy under PGD attack vs iterations")}
	p := newPlot(o, "PGD iterations")
	p.X.Scale = gplot.LogScale{}
	var iters, accs []float64
	for i, s := range series {
		if len(s.Eval.Curve) == 0 {
			return nil, fmt.Errorf("plot: %s has no PGD curve", s.Label)
		}
		pts := make(plotter.XYs, len(s.Eval.Curve))
		for j, pt := range s.Eval.Curve {
			pts[j] = plotter.XY{X: float64(pt.Iters), Y: 100 * pt.Accuracy}
			iters = append(iters, float64(pt.Iters))
			accs = append(accs, 100*pt.Accuracy)
		}
		slices.SortFunc(pts, func(a, b plotter.XY) int { return cmpFloat(a.X, b.X) })
		if err := f.addLine(p, pts, i, false, fmt.Sprintf("%s (clean %.1f%%)", s.Label, 100*s.Eval.Clean)); err != nil {
			return nil, err
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
	percentAxis(p, accs, o.YLabel)
	f.panels = []*gplot.Plot{p}
	return f, nil
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
	f, err := ratioFigure(pts, o)
	if err != nil {
		return err
	}
	return f.write(w, o)
}

func ratioFigure(pts []Point, o Options) (*figure, error) {
	return accuracyVsX(pts, o, "ratio of clean images in training", "Clean and robust accuracy vs the ratio of clean training images")
}

// Depth draws clean and robust accuracy (at each evaluation's largest
// PGD count) vs depth, or multiply-adds with XLabel saying so (the
// paper's Fig. 7).
func Depth(w io.Writer, pts []Point, o Options) error {
	f, err := depthFigure(pts, o)
	if err != nil {
		return err
	}
	return f.write(w, o)
}

func depthFigure(pts []Point, o Options) (*figure, error) {
	return accuracyVsX(pts, o, "depth", "Clean and robust accuracy vs "+cmp.Or(o.XLabel, "depth"))
}

func accuracyVsX(pts []Point, o Options, xlabel, title string) (*figure, error) {
	if len(pts) == 0 {
		return nil, errors.New("plot: no evaluations to draw")
	}
	f := &figure{title: o.title(title)}
	p := newPlot(o, xlabel)
	pts = slices.Clone(pts)
	slices.SortStableFunc(pts, func(a, b Point) int { return cmpFloat(a.X, b.X) })
	clean := make(plotter.XYs, len(pts))
	robust := make(plotter.XYs, len(pts))
	var counts []int
	var accs []float64
	for i, pt := range pts {
		if math.IsNaN(pt.X) || math.IsInf(pt.X, 0) {
			return nil, fmt.Errorf("plot: x value %g", pt.X)
		}
		acc, k := pt.Eval.Robust()
		if k == 0 {
			return nil, fmt.Errorf("plot: the evaluation at x = %g has no PGD curve", pt.X)
		}
		counts = append(counts, k)
		clean[i] = plotter.XY{X: pt.X, Y: 100 * pt.Eval.Clean}
		robust[i] = plotter.XY{X: pt.X, Y: 100 * acc}
		accs = append(accs, clean[i].Y, robust[i].Y)
	}
	label := fmt.Sprintf("PGD-%d", counts[0])
	if slices.Min(counts) != slices.Max(counts) {
		label = "PGD (largest count of each)"
	}
	if err := f.addLine(p, clean, 0, false, "clean"); err != nil {
		return nil, err
	}
	if err := f.addLine(p, robust, 1, false, label); err != nil {
		return nil, err
	}
	if lo, hi := clean[0].X, clean[len(clean)-1].X; lo == hi {
		p.X.Min, p.X.Max = lo-1, lo+1
	} else {
		margin := 0.04 * (hi - lo)
		p.X.Min, p.X.Max = lo-margin, hi+margin
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
	percentAxis(p, accs, o.YLabel)
	f.panels = []*gplot.Plot{p}
	return f, nil
}

// Stats draws the per-channel running mean (top panel) and variance
// (bottom panel) of BN layer `layer` of a `netc stats` report, one line
// per branch (MBN: clean and adversarial, the paper's Fig. 5), and the
// batch statistics as dashed lines when the report has them (Fig. 6).
func Stats(w io.Writer, r *diag.Report, layer string, o Options) error {
	f, err := statsFigure(r, layer, o)
	if err != nil {
		return err
	}
	return f.write(w, o)
}

func statsFigure(r *diag.Report, layer string, o Options) (*figure, error) {
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
		return statsFigure(r, names[0], o)
	}
	switch {
	case len(ls) > 0:
	case layer == "":
		return nil, fmt.Errorf("statistics of %d layers: name one (%s)", len(names), strings.Join(names, ", "))
	default:
		return nil, fmt.Errorf("no layer %q in the statistics (layers: %s)", layer, strings.Join(names, ", "))
	}
	title := fmt.Sprintf("%s: running statistics of %s", r.Model, layer)
	if len(ls) > 1 {
		title += ", per MBN branch"
	}
	if ls[0].BatchMean != nil {
		title = fmt.Sprintf("%s: running vs batch statistics of %s (%d %s test images)", r.Model, layer, r.Images, r.ImageKind())
	}
	f := &figure{title: o.title(title)}
	for k, what := range []string{"running mean", "running variance"} {
		p := newPlot(o, "channel")
		p.Y.Label.Text = strings.TrimPrefix(what, "running ")
		legend := k == 0 // both panels have the same series
		var ys []float64
		for i, l := range ls {
			run, batch := l.RunningMean, l.BatchMean
			if k == 1 {
				run, batch = l.RunningVar, l.BatchVar
			}
			suffix := ", " + l.Branch
			if l.Branch == diag.BranchBN {
				suffix = ""
			}
			if err := f.addLineTo(p, channelXYs(run), i, false, "running"+suffix, legend); err != nil {
				return nil, err
			}
			ys = appendFloats(ys, run)
			if batch != nil {
				if err := f.addLineTo(p, channelXYs(batch), len(ls)+i, true, "batch"+suffix, legend); err != nil {
					return nil, err
				}
				ys = appendFloats(ys, batch)
			}
		}
		fitAxis(&p.Y, ys)
		if n := ls[0].Channels; n > 0 {
			p.X.Min, p.X.Max = -0.5, float64(n)-0.5
		}
		f.panels = append(f.panels, p)
	}
	return f, nil
}

func appendFloats(dst []float64, v []float32) []float64 {
	for _, x := range v {
		dst = append(dst, float64(x))
	}
	return dst
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

// newPlot is a panel with a grid, no title (the figure has it) and no
// legend of its own (the figure draws one outside the data).
func newPlot(o Options, xlabel string) *gplot.Plot {
	p := gplot.New()
	p.X.Label.Text = xlabel
	if o.XLabel != "" {
		p.X.Label.Text = o.XLabel
	}
	p.Add(plotter.NewGrid())
	return p
}

// addLine adds the i-th series (see styleOf; dashed if dashed) to panel
// p and its entry to the figure's legend.
func (f *figure) addLine(p *gplot.Plot, xy plotter.XYs, i int, dashed bool, label string) error {
	return f.addLineTo(p, xy, i, dashed, label, true)
}

// addLineTo is addLine, adding the legend entry only if legend.
func (f *figure) addLineTo(p *gplot.Plot, xy plotter.XYs, i int, dashed bool, label string, legend bool) error {
	for _, pt := range xy {
		if math.IsNaN(pt.Y) || math.IsInf(pt.Y, 0) {
			return fmt.Errorf("plot: %s: value %g", label, pt.Y)
		}
	}
	l, s, err := plotter.NewLinePoints(xy)
	if err != nil {
		return fmt.Errorf("plot: %s: %w", label, err)
	}
	st := styleOf(i)
	l.Color = st.color
	l.Width = vg.Points(1.5)
	l.Dashes = st.dashes
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	s.Color = st.color
	s.Shape = st.marker
	s.Radius = vg.Points(3)
	if len(xy) > 64 { // channels: markers would hide the lines
		s.Radius = 0
	}
	p.Add(l, s)
	if legend {
		f.legend = append(f.legend, entry{label: label, thumbs: []gplot.Thumbnailer{l, s}})
	}
	return nil
}

// minPercentSpan is the smallest range of an accuracy axis, in points.
const minPercentSpan = 10

// percentAxis fits the y axis to accuracies accs (%), with a margin:
// from 0 when the smallest is near it (as near as the data's spread),
// else from a round value above 0, which the axis label (label, default
// "accuracy (%)") then states.
func percentAxis(p *gplot.Plot, accs []float64, label string) {
	lo, hi := slices.Min(accs), slices.Max(accs)
	// At least minPercentSpan points, so that noise does not look like a
	// trend.
	c, half := (lo+hi)/2, max(hi-lo, minPercentSpan)/2
	fitAxis(&p.Y, []float64{c - half, c + half})
	if lo <= 1.5*(hi-lo) {
		p.Y.Min = 0
	}
	p.Y.Min, p.Y.Max = max(p.Y.Min, 0), min(p.Y.Max, 100)
	roundAxis(&p.Y)
	if label == "" {
		label = "accuracy (%)"
	}
	p.Y.Label.Text = label
	if p.Y.Min > 0 {
		p.Y.Label.Text = fmt.Sprintf("%s: axis starts at %g, not 0", label, p.Y.Min)
	}
}

// fitAxis sets an axis's range to that of values vs with a margin of 5%
// of it on either side (of 1 or of the value's size if all are equal)
// and rounds it (roundAxis).
func fitAxis(a *gplot.Axis, vs []float64) {
	if len(vs) == 0 {
		return
	}
	lo, hi := slices.Min(vs), slices.Max(vs)
	margin := 0.05 * (hi - lo)
	if margin == 0 {
		margin = math.Max(math.Abs(hi)*0.05, 0.5)
	}
	a.Min, a.Max = lo-margin, hi+margin
	roundAxis(a)
}

// roundAxis widens an axis's range to multiples of a round step (about a
// tenth of it) and puts labelled ticks at 4 to 8 round values.
func roundAxis(a *gplot.Axis) {
	span := a.Max - a.Min
	bound := niceStep(span / 10)
	a.Min, a.Max = math.Floor(a.Min/bound)*bound, math.Ceil(a.Max/bound)*bound
	step := niceStep((a.Max - a.Min) / 7)
	var ticks gplot.ConstantTicks
	for v := math.Ceil(a.Min/step) * step; v <= a.Max+step/1e6; v += step {
		v = math.Round(v/step) * step // no accumulated error
		ticks = append(ticks, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
	}
	a.Tick.Marker = ticks
}

// niceStep is the smallest of 1, 2 or 5 times a power of ten that is
// at least x.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= x*(1-1e-9) {
			return m * pow
		}
	}
	return 10 * pow
}
