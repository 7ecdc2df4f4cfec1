package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/eval"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// run is one evaluation of docs/REPRODUCTION.md's tables: clean
// accuracy and the accuracies at iters (in %).
func run(clean float64, iters []int, accs ...float64) *Eval {
	e := &Eval{}
	e.Clean, e.Images, e.Attack, e.Eps = clean/100, 1000, "untargeted", 0.3
	for i, a := range accs {
		e.Curve = append(e.Curve, eval.Point{Iters: iters[i], Accuracy: a / 100})
	}
	return e
}

var (
	mnistK = []int{10, 40, 100}
	cifarK = []int{10, 20, 50}
)

// mnistCurves are the MNIST grid's rows, a dozen of them (Fig. 2).
var mnistCurves = []Series{
	{"0% adv + 100% clean (standard), BN", run(90.7, mnistK, 0, 0, 0)},
	{"100% adv + 100% clean", run(98.2, mnistK, 89.9, 87.5, 84.8)},
	{"100% adv + 100% clean, ALP 0.5", run(96.1, mnistK, 91.2, 89.3, 88.2)},
	{"100% adv + 60% clean", run(98.0, mnistK, 89.9, 88.0, 84.7)},
	{"100% adv + 20% clean", run(97.7, mnistK, 89.7, 87.6, 85.6)},
	{"100% adv + 0% clean", run(98.1, mnistK, 92.0, 90.2, 89.0)},
	{"100% adv + 0% clean, running stats", run(98.2, mnistK, 91.7, 90.3, 87.8)},
	{"MBN_adv, 100% adv + 100% clean", run(97.5, mnistK, 89.7, 87.1, 84.7)},
	{"GN, 100% adv + 100% clean", run(89.3, mnistK, 59.9, 50.5, 32.7)},
	{"100% adv + 0% clean, PGD-1 training", run(82.7, mnistK, 48.2, 39.7, 29.2)},
	{"100% adv + 100% clean, PGD-1 training", run(98.3, mnistK, 74.3, 62.8, 39.1)},
	{"100% adv + 0% clean, PGD-4 training", run(97.9, mnistK, 92.6, 90.9, 89.3)},
}

// cifarCurves are the CIFAR-10 grid's Fig. 2 rows.
var cifarCurves = []Series{
	{"0% adv + 100% clean (standard), BN", run(57.8, cifarK, 1.2, 0.2, 0.2)},
	{"100% adv + 100% clean", run(54.6, cifarK, 27.0, 20.6, 20.0)},
	{"100% adv + 100% clean, ALP 0.5", run(46.0, cifarK, 30.4, 27.6, 27.4)},
	{"100% adv + 20% clean", run(53.8, cifarK, 26.4, 19.8, 19.6)},
	{"100% adv + 0% clean", run(48.6, cifarK, 30.6, 27.0, 27.0)},
	{"100% adv + 0% clean, running stats", run(27.8, cifarK, 22.2, 21.0, 21.0)},
	{"MBN_adv, 100% adv + 100% clean", run(46.8, cifarK, 25.0, 20.8, 20.8)},
	{"GN, 100% adv + 100% clean", run(43.4, cifarK, 24.2, 21.2, 20.8)},
}

// bnReport is a `netc stats` report of one BN layer of 16 channels (both
// MBN branches if mbn), with batch statistics if batch.
func bnReport(mbn, batch bool) *diag.Report {
	r := &diag.Report{Model: "mnistresnet"}
	branches := []string{diag.BranchBN}
	if mbn {
		branches = []string{diag.BranchClean, diag.BranchAdv}
	}
	for k, br := range branches {
		l := diag.Layer{Layer: "layer1.0.bn1", Branch: br, Channels: 16}
		for ch := range 16 {
			x := float64(ch)
			l.RunningMean = append(l.RunningMean, float32(math.Sin(x)*1.2-0.6+0.3*float64(k)))
			l.RunningVar = append(l.RunningVar, float32(1+4*math.Abs(math.Cos(x*0.7))+float64(k)))
			if batch {
				l.BatchMean = append(l.BatchMean, float32(math.Sin(x)*1.1-0.5))
				l.BatchVar = append(l.BatchVar, float32(0.8+3.5*math.Abs(math.Cos(x*0.7))))
			}
		}
		r.Layers = append(r.Layers, l)
	}
	if batch {
		r.Batches, r.Batch, r.Images = 2, 100, 200
	}
	return r
}

// realistic are figures of every kind from inputs like the grids'.
func realistic(t *testing.T) map[string]*figure {
	t.Helper()
	figs := map[string]*figure{}
	add := func(name string, f *figure, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		figs[name] = f
	}
	ratio := func(clean, robust [4]float64) []Point {
		var pts []Point
		for i, x := range []float64{0, 0.2, 0.6, 1} {
			pts = append(pts, Point{x, run(clean[i], []int{100}, robust[i])})
		}
		return pts
	}
	f, err := curveFigure(mnistCurves, Options{})
	add("mnist-curve", f, err)
	f, err = curveFigure(cifarCurves, Options{Title: "cifar: accuracy vs PGD iterations"})
	add("cifar-curve", f, err)
	f, err = curveFigure(mnistCurves[1:3], Options{})
	add("two-curves", f, err)
	f, err = ratioFigure(ratio([4]float64{98.1, 97.7, 98.0, 98.2}, [4]float64{89.0, 85.6, 84.7, 84.8}), Options{})
	add("mnist-ratio", f, err)
	f, err = ratioFigure(ratio([4]float64{48.6, 53.8, 54.4, 54.6}, [4]float64{27.0, 19.6, 19.0, 20.0}), Options{})
	add("cifar-ratio", f, err)
	depth := []Point{{8, run(98.2, mnistK, 91.7, 90.3, 87.8)}, {14, run(98.3, mnistK, 93.8, 92.3, 91.0)}, {20, run(98.9, mnistK, 94.7, 93.6, 91.5)}}
	f, err = depthFigure(depth, Options{})
	add("mnist-depth", f, err)
	f, err = statsFigure(bnReport(true, false), "", Options{})
	add("mbn-stats", f, err)
	f, err = statsFigure(bnReport(false, true), "", Options{})
	add("batch-stats", f, err)
	return figs
}

// TestRealisticFigures draws every kind of figure from realistic inputs;
// with NETC_PLOT_DIR set it writes them there to look at:
//
//	NETC_PLOT_DIR=/tmp/figs go test -run Realistic ./plot
func TestRealisticFigures(t *testing.T) {
	dir := os.Getenv("NETC_PLOT_DIR")
	for name, f := range realistic(t) {
		var b bytes.Buffer
		if err := f.write(&b, Options{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		decode(t, name, b.Bytes())
		if dir != "" {
			if err := os.WriteFile(filepath.Join(dir, name+".png"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func overlaps(a, b vg.Rectangle) bool {
	return max(a.Min.X, b.Min.X) < min(a.Max.X, b.Max.X) && max(a.Min.Y, b.Min.Y) < min(a.Max.Y, b.Max.Y)
}

// The legend is drawn outside every panel's data area, inside the image,
// beside the plot when it is narrow and below it when it is not.
func TestLegendOutsideData(t *testing.T) {
	for name, f := range realistic(t) {
		_, d := f.draw(Options{})
		if len(d.legend) == 0 {
			t.Errorf("%s: no legend", name)
		}
		for _, l := range d.legend {
			if l.Min.X < 0 || l.Min.Y < 0 || l.Max.X > d.width || l.Max.Y > d.height {
				t.Errorf("%s: legend %v outside the image of %v×%v", name, l, d.width, d.height)
			}
			for i, data := range d.data {
				if overlaps(l, data) {
					t.Errorf("%s: legend %v over panel %d's data %v", name, l, i, data)
				}
			}
		}
		below := d.legend[0].Max.Y <= d.data[len(d.data)-1].Min.Y
		beside := d.legend[0].Min.X >= d.data[0].Max.X
		if !below && !beside {
			t.Errorf("%s: legend %v neither below nor beside the data %v", name, d.legend[0], d.data)
		}
		switch want := map[string]string{"mnist-curve": "below", "cifar-curve": "below", "mnist-ratio": "beside", "mbn-stats": "beside"}[name]; {
		case want == "below" && !below, want == "beside" && !beside:
			t.Errorf("%s: legend %v not %s the data %v", name, d.legend[0], want, d.data)
		}
	}
}

// Accuracy axes span the data with a small margin: from 0 when the data
// reach near it, else from a round value that the axis label names.
func TestAxesFitData(t *testing.T) {
	figs := realistic(t)
	for _, tc := range []struct {
		name           string
		minLo, maxLo   float64
		minHi, maxHi   float64
		labelSaysStart bool
	}{
		{"cifar-curve", 0, 0, 30.6, 36, false},
		{"mnist-curve", 0, 0, 92.6, 100, false},
		{"mnist-ratio", 80, 84.7, 98.2, 100, true},
		{"cifar-ratio", 0, 19, 54.6, 60, false},
		{"mnist-depth", 80, 87.8, 98.9, 100, true},
	} {
		p := figs[tc.name].panels[0]
		if p.Y.Min < tc.minLo || p.Y.Min > tc.maxLo || p.Y.Max < tc.minHi || p.Y.Max > tc.maxHi {
			t.Errorf("%s: y axis %g..%g, want from %g..%g to %g..%g", tc.name, p.Y.Min, p.Y.Max, tc.minLo, tc.maxLo, tc.minHi, tc.maxHi)
		}
		if says := strings.Contains(p.Y.Label.Text, fmt.Sprintf("starts at %g", p.Y.Min)); says != tc.labelSaysStart || p.Y.Min > 0 && !says {
			t.Errorf("%s: y label %q with the axis from %g", tc.name, p.Y.Label.Text, p.Y.Min)
		}
	}
	// Statistics panels: the data's range and 5% more on each side.
	for _, p := range figs["batch-stats"].panels {
		if p.Y.Min >= 0 && strings.Contains(p.Y.Label.Text, "mean") || p.Y.Max-p.Y.Min > 20 {
			t.Errorf("stats panel %q: y axis %g..%g", p.Y.Label.Text, p.Y.Min, p.Y.Max)
		}
	}
}

// Every series has its own colour and marker, for the dozen of the MNIST
// grid's Fig. 2, and its own combination with the dashes beyond.
func TestSeriesStylesDistinct(t *testing.T) {
	type look struct {
		color  color.RGBA
		marker string
		dashes string
	}
	looks := func(f *figure) []look {
		var ls []look
		for _, e := range f.legend {
			l, s := e.thumbs[0].(*plotter.Line), e.thumbs[1].(*plotter.Scatter)
			c := color.RGBAModel.Convert(l.Color).(color.RGBA)
			if sc := color.RGBAModel.Convert(s.Color).(color.RGBA); sc != c {
				t.Errorf("%s: line %v, marker %v", e.label, c, sc)
			}
			ls = append(ls, look{c, fmt.Sprintf("%#v", s.Shape), fmt.Sprint(l.Dashes)})
		}
		return ls
	}
	f := realistic(t)["mnist-curve"]
	ls := looks(f)
	if len(ls) != 12 {
		t.Fatalf("%d legend entries, want 12", len(ls))
	}
	for i := range ls {
		for j := range i {
			if ls[i].color == ls[j].color || ls[i].marker == ls[j].marker {
				t.Errorf("series %d and %d share a colour or marker: %+v, %+v", j, i, ls[j], ls[i])
			}
		}
	}
	var many []Series
	for i := range 40 {
		many = append(many, Series{fmt.Sprint(i), run(90, mnistK, 80, 70, 60)})
	}
	f, err := curveFigure(many, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ls = looks(f)
	for i := range ls {
		if j := slices.Index(ls[:i], ls[i]); j >= 0 {
			t.Errorf("series %d and %d look the same: %+v", j, i, ls[i])
		}
	}
}

// Each kind has a default title; Options.Title replaces it.
func TestTitles(t *testing.T) {
	for name, f := range realistic(t) {
		if f.title == "" {
			t.Errorf("%s: no title", name)
		}
	}
	if f := realistic(t)["cifar-curve"]; f.title != "cifar: accuracy vs PGD iterations" {
		t.Errorf("title %q, want Options.Title", f.title)
	}
	f, err := statsFigure(bnReport(true, false), "", Options{Title: "mine"})
	if err != nil || f.title != "mine" {
		t.Errorf("stats title %q (%v), want Options.Title", f.title, err)
	}
}
