package experiments

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"github.com/netc/netc/plot"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/train"
)

// trained builds the model of row name with the weights of row weights's
// checkpoint.
func (r *Runner) trained(name, weights string) (nn.Model, error) {
	row, _ := r.Grid.Row(name)
	s, _, err := r.Grid.spec(row)
	if err != nil {
		return nil, err
	}
	m, err := r.New(s, 0)
	if err != nil {
		return nil, err
	}
	c, err := train.OpenCheckpoint(r.checkpoint(weights))
	if err != nil {
		return nil, err
	}
	return m, c.Restore(m, nil)
}

// Figures draws the grid's figures that its results allow into dir and
// returns their paths relative to rel (the report's folder): robust
// accuracy vs the ratio of clean images (Fig. 1), accuracy vs PGD
// iterations per strategy (Fig. 2), MBN's running statistics per branch
// in the first block (Fig. 5), BN's running statistics against the batch
// statistics of adversarial images (Fig. 6), and accuracy vs depth
// (Fig. 7).
func (r *Runner) Figures(dir, rel string, res map[string]*Result) ([]string, error) {
	g := r.Grid
	var paths []string
	write := func(name string, draw func(b *bytes.Buffer) error) error {
		var b bytes.Buffer
		if err := draw(&b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		p := filepath.Join(dir, g.Name+"-"+name+".png")
		if err := renameio.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return err
		}
		rp, err := filepath.Rel(rel, p)
		if err != nil {
			return err
		}
		paths = append(paths, filepath.ToSlash(rp))
		return nil
	}
	ok := func(name string) bool { return res[name] != nil && res[name].Failed == "" }
	ev := func(name string) *plot.Eval { return &plot.Eval{Result: *res[name].Eval} }
	points := func(names []string, xs []float64) []plot.Point {
		var pts []plot.Point
		for i, n := range names {
			if ok(n) {
				pts = append(pts, plot.Point{X: xs[i], Eval: ev(n)})
			}
		}
		return pts
	}
	title := func(s string) plot.Options { return plot.Options{Title: g.Name + ": " + s} }

	if pts := points([]string{"adv100-clean0", "adv100-clean20", "adv100-clean60", "adv100-clean100"}, []float64{0, 0.2, 0.6, 1}); len(pts) > 1 {
		if err := write("fig1-clean-ratio", func(b *bytes.Buffer) error {
			return plot.Ratio(b, pts, title("BN, 100% adv + X clean; PGD: correct at all iterates"))
		}); err != nil {
			return paths, err
		}
	}
	var series []plot.Series
	for _, n := range []string{"standard-bn", "adv100-clean100", "adv100-clean100-alp", "adv100-clean20", "adv100-clean0", "adv100-clean0-rs", "mbn-adv", "gn"} {
		if ok(n) {
			row, _ := g.Row(n)
			series = append(series, plot.Series{Label: row.Label, Eval: ev(n)})
		}
	}
	if len(series) > 1 {
		if err := write("fig2-pgd-curves", func(b *bytes.Buffer) error {
			return plot.Curve(b, series, title("accuracy at all iterates vs PGD iterations"))
		}); err != nil {
			return paths, err
		}
	}
	const layer = "layer1.0.bn1"
	if ok("mbn-adv") {
		m, err := r.trained("mbn-adv", "mbn-adv")
		if err != nil {
			return paths, err
		}
		rep, err := diag.Collect(m, nil, diag.Config{Prefix: layer})
		if err != nil {
			return paths, err
		}
		if err := write("fig5-mbn-statistics", func(b *bytes.Buffer) error {
			return plot.Stats(b, rep, layer, title("MBN running statistics, "+layer))
		}); err != nil {
			return paths, err
		}
	}
	if ok("adv100-clean100") {
		// BN trained on mixed batches: its running statistics against
		// the batch statistics of adversarial test images.
		m, err := r.trained("adv100-clean100", "adv100-clean100")
		if err != nil {
			return paths, err
		}
		test, err := data.Load(g.dataSource(), "test")
		if err != nil {
			return paths, err
		}
		att := g.Eval.Attack
		att.Steps = g.Eval.Iters[0]
		rep, err := diag.Collect(m, test, diag.Config{Prefix: layer, Batches: 2, Batch: 100, Adversarial: true, Attack: att, Seed: g.Eval.Seed})
		if err != nil {
			return paths, err
		}
		if err := write("fig6-batch-vs-running", func(b *bytes.Buffer) error {
			return plot.Stats(b, rep, layer, title("BN (100% adv + 100% clean), adversarial batches, "+layer))
		}); err != nil {
			return paths, err
		}
	}
	if pts := points([]string{"adv-depth8", "adv-depth14", "adv-depth20"}, []float64{8, 14, 20}); len(pts) > 1 {
		if err := write("fig7-depth", func(b *bytes.Buffer) error {
			return plot.Depth(b, pts, title("adversarial-only training vs depth; PGD: correct at all iterates"))
		}); err != nil {
			return paths, err
		}
	}
	return paths, nil
}
