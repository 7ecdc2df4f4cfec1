package experiments

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/eval"
)

// A row evaluated by an older netc (robust accuracy at the K-th iterate
// only, no protocol recorded) is not taken as done: it is evaluated
// again rather than reported with the new meaning.
func TestOldEvaluationsAreNotReused(t *testing.T) {
	r := &Runner{Grid: MNIST(), Dir: t.TempDir()}
	dir := r.rowDir("gn")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := `{"row": "gn", "eval": {"images": 10, "clean_accuracy": 0.9, "attack": "untargeted", "pgd": [{"iters": 100, "accuracy": 0.95}]}}`
	if err := os.WriteFile(filepath.Join(dir, "eval.json"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.load("gn"); err == nil || !strings.Contains(err.Error(), "another protocol") {
		t.Errorf("an old evaluation: %v, want it refused", err)
	}
	res := &Result{Row: "gn", Eval: &eval.Result{Images: 10, Clean: 0.9, Protocol: eval.Protocol}}
	if err := r.save("gn", res); err != nil {
		t.Fatal(err)
	}
	if got, err := r.load("gn"); err != nil || got.Eval.Protocol != eval.Protocol {
		t.Errorf("a current evaluation: %+v, %v", got, err)
	}
	if err := r.save("gn", &Result{Row: "gn", Failed: "diverged"}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.load("gn"); err != nil || got.Failed == "" {
		t.Errorf("a failed row: %+v, %v", got, err)
	}
}
