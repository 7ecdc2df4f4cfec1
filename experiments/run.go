package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/diag"
	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/train"
)

// Result is a row's evaluation.
type Result struct {
	Row    string       `json:"row"`
	Params int          `json:"params"`
	MACs   int64        `json:"macs"`
	Eval   *eval.Result `json:"eval,omitempty"`
	// Failed says why the row's training stopped (its loss diverged):
	// a result of the protocol too, reported as such.
	Failed string `json:"failed,omitempty"`
}

// Runner runs a grid's rows in a folder, one subfolder per row; a row
// whose checkpoint and evaluation are there is not run again, and a row
// cut short resumes from its checkpoint.
type Runner struct {
	Grid *Grid
	Dir  string
	New  train.Factory // the interpreter, or compiled models
	Log  func(format string, args ...any)
}

func (r *Runner) rowDir(name string) string { return filepath.Join(r.Dir, name) }

// checkpoint is a row's last checkpoint.
func (r *Runner) checkpoint(name string) string {
	return filepath.Join(r.rowDir(name), "checkpoints", "last.safetensors")
}

// Run runs the named rows (all if none) and the rows they start from,
// and returns every row's result that is available.
func (r *Runner) Run(ctx context.Context, only ...string) (map[string]*Result, error) {
	want := map[string]bool{}
	var mark func(name string) error
	mark = func(name string) error {
		row, ok := r.Grid.Row(name)
		if !ok {
			return fmt.Errorf("%s grid: no row %q", r.Grid.Name, name)
		}
		want[name] = true
		if row.Init != "" {
			return mark(row.Init)
		}
		return nil
	}
	for _, name := range only {
		if err := mark(name); err != nil {
			return nil, err
		}
	}
	var test *data.Dataset
	results := map[string]*Result{}
	for i, row := range r.Grid.Rows {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		if len(only) > 0 && !want[row.Name] {
			if res, err := r.load(row.Name); err == nil {
				results[row.Name] = res
			}
			continue
		}
		r.Log("\n[%d/%d] %s: %s\n", i+1, len(r.Grid.Rows), row.Name, row.Label)
		if res, err := r.load(row.Name); err == nil && r.done(row) {
			results[row.Name] = res
			if res.Failed != "" {
				r.Log("failed before: %s\n", res.Failed)
			} else {
				r.Log("done before: clean %.2f%%\n", 100*res.Eval.Clean)
			}
			continue
		}
		if init := results[row.Init]; row.Init != "" && (init == nil || init.Failed != "") {
			r.Log("skipped: %s has no trained weights\n", row.Init)
			continue
		}
		s, _, err := r.Grid.spec(row)
		if err != nil {
			return results, err
		}
		var m nn.Model
		if row.Train.Epochs == 0 { // evaluates Init's weights
			if m, err = r.trained(row.Name, row.Init); err != nil {
				return results, err
			}
		} else {
			c := row.Train
			if row.Init != "" {
				c.Init = r.checkpoint(row.Init)
			}
			if m, err = train.RunSpec(ctx, r.New, s, c, r.rowDir(row.Name), train.Options{CheckpointEvery: train.DefaultCheckpointEvery}); err != nil {
				if !errors.Is(err, train.ErrNonFinite) {
					return results, fmt.Errorf("%s: %w", row.Name, err)
				}
				r.Log("%s failed: %v\n", row.Name, err)
				out := &Result{Row: row.Name, Failed: err.Error()}
				if err := r.save(row.Name, out); err != nil {
					return results, err
				}
				results[row.Name] = out
				continue
			}
		}
		if test == nil {
			if test, err = data.Load(r.Grid.dataSource(), "test"); err != nil {
				return results, err
			}
		}
		ec := r.Grid.Eval
		ec.Branch, ec.Locate = row.Branch, diag.FirstNonFinite
		res, err := eval.RunContext(ctx, m, test, ec)
		if err != nil {
			return results, err
		}
		g, err := compiler.Lower(s)
		if err != nil {
			return results, err
		}
		sum := g.Summarize(1)
		out := &Result{Row: row.Name, Params: int(sum.Params), MACs: sum.MACs, Eval: res}
		if err := r.save(row.Name, out); err != nil {
			return results, err
		}
		results[row.Name] = out
	}
	return results, nil
}

// dataSource is the data the grid trains on (its first row's).
func (g *Grid) dataSource() string { return g.Rows[0].Train.Data }

// done reports whether a row's evaluation is newer than its checkpoint
// (or, for a row that only evaluates, than its Init's).
func (r *Runner) done(row Row) bool {
	if res, err := r.load(row.Name); err == nil && res.Failed != "" {
		return true
	}
	ev, err := os.Stat(filepath.Join(r.rowDir(row.Name), "eval.json"))
	if err != nil {
		return false
	}
	name := row.Name
	if row.Train.Epochs == 0 {
		name = row.Init
	}
	ck, err := os.Stat(r.checkpoint(name))
	if err != nil {
		return false
	}
	if row.Train.Epochs > 0 {
		st, err := readState(r.rowDir(row.Name))
		if err != nil || st < row.Train.Epochs {
			return false
		}
	}
	return !ev.ModTime().Before(ck.ModTime())
}

// readState is the number of epochs a run folder's checkpoint finished.
func readState(dir string) (int, error) {
	c, err := train.OpenCheckpoint(filepath.Join(dir, "checkpoints", "last.safetensors"))
	if err != nil {
		return 0, err
	}
	return c.Meta.State.Epoch, nil
}

func (r *Runner) load(name string) (*Result, error) {
	b, err := os.ReadFile(filepath.Join(r.rowDir(name), "eval.json"))
	if err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(r.rowDir(name), "eval.json"), err)
	}
	if res.Eval != nil && res.Eval.Protocol != eval.Protocol {
		// Counted as an older netc did (the K-th iterate only): the row
		// is evaluated again.
		return nil, fmt.Errorf("%s: evaluated with another protocol (%q)", filepath.Join(r.rowDir(name), "eval.json"), res.Eval.Protocol)
	}
	return &res, nil
}

func (r *Runner) save(name string, res *Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.rowDir(name), 0o755); err != nil {
		return err
	}
	return renameio.WriteFile(filepath.Join(r.rowDir(name), "eval.json"), append(b, '\n'), 0o644)
}
