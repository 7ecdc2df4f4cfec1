package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/netc/netc/runtime/pgd"
)

// Report is one model's evaluation under every attack asked for: what
// `netc eval --json` prints, one object whatever the number of attacks.
// A clean-only evaluation (`--pgd 0`) has no attacks.
type Report struct {
	Checkpoint string  `json:"checkpoint"`
	Model      string  `json:"model"`
	Data       string  `json:"data"`
	Images     int     `json:"images"`
	Clean      float64 `json:"clean_accuracy"`
	CleanTop5  float64 `json:"clean_top5_accuracy,omitempty"`
	Branch     string  `json:"branch"`
	Protocol   string  `json:"protocol"`
	// Settings says where each attack setting (the flags eps, step,
	// attack and attack-norm) came from: "flag", "run" (the checkpoint's training
	// attack) or "default".
	Settings map[string]string `json:"settings,omitempty"`
	Attacks  []AttackResult    `json:"attacks"`
	// Warnings are those of the evaluation as a whole (gradient masking).
	Warnings []string `json:"warnings,omitempty"`
}

// NewReport gathers the results of one model's evaluations under
// several attack losses, all on the same images, into a report.
func NewReport(checkpoint, model, data string, results []*Result) (*Report, error) {
	if len(results) == 0 {
		return nil, errors.New("eval: a report needs an evaluation")
	}
	first := results[0]
	r := &Report{Checkpoint: checkpoint, Model: model, Data: data, Images: first.Images, Clean: first.Clean,
		CleanTop5: first.CleanTop5, Branch: first.Branch, Protocol: first.Protocol, Attacks: []AttackResult{}}
	for _, res := range results {
		if res.Images != first.Images || res.Clean != first.Clean || res.Branch != first.Branch {
			return nil, fmt.Errorf("eval: evaluations of %d and %d images (clean %g and %g, branch %s and %s) in one report",
				first.Images, res.Images, first.Clean, res.Clean, first.Branch, res.Branch)
		}
		if len(res.Curve) > 0 {
			r.Attacks = append(r.Attacks, res.AttackResult)
		}
	}
	return r, nil
}

// Results is the report as one Result per attack.
func (r *Report) Results() []*Result {
	var out []*Result
	for _, a := range r.Attacks {
		out = append(out, &Result{Images: r.Images, Clean: r.Clean, CleanTop5: r.CleanTop5, Branch: r.Branch, Protocol: r.Protocol, AttackResult: a})
	}
	return out
}

// DecodeReport decodes one JSON value b, a report, and checks that it
// is one as netc writes it: what Accuracy counts (Protocol), shares in
// [0, 1], counts that rise, Accuracy at most the clean and the
// paper-protocol accuracy and never rising. where names b in errors.
func DecodeReport(where string, b []byte) (*Report, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		return nil, fmt.Errorf("%s: an array: an older `netc eval --json` output (one object per attack, accuracy at the K-th iterate only); evaluate again", where)
	}
	var probe struct {
		Clean    *float64        `json:"clean_accuracy"`
		Attacks  json.RawMessage `json:"attacks"`
		OldCurve json.RawMessage `json:"pgd"`
		Stats    json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	switch {
	case probe.Stats != nil:
		return nil, fmt.Errorf("%s: a `netc stats` output, not a `netc eval --json` one", where)
	case probe.Attacks == nil && probe.OldCurve != nil:
		return nil, fmt.Errorf("%s: an older `netc eval --json` output (accuracy at the K-th iterate only); evaluate again", where)
	case probe.Clean == nil || probe.Attacks == nil:
		return nil, fmt.Errorf("%s: not a `netc eval --json` output (want clean_accuracy and attacks)", where)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &r, nil
}

func (r *Report) validate() error {
	if r.Protocol != Protocol {
		return fmt.Errorf("protocol %q, want %q (an evaluation by another netc?)", r.Protocol, Protocol)
	}
	if r.Images < 1 {
		return fmt.Errorf("%d images: want >= 1", r.Images)
	}
	if bad(r.Clean) || bad(r.CleanTop5) {
		return fmt.Errorf("clean accuracy %g (top-5 %g): want values in [0, 1]", r.Clean, r.CleanTop5)
	}
	for i, a := range r.Attacks {
		if _, err := pgd.ParseLoss(a.Attack); err != nil {
			return fmt.Errorf("attack %d: %w", i+1, err)
		}
		if len(a.Curve) == 0 {
			return fmt.Errorf("%s attack: no PGD curve", a.Attack)
		}
		for j, p := range a.Curve {
			if p.Iters < 1 {
				return fmt.Errorf("%s attack: PGD iteration count %d: want >= 1", a.Attack, p.Iters)
			}
			if j > 0 && p.Iters <= a.Curve[j-1].Iters {
				return fmt.Errorf("%s attack: PGD-%d after PGD-%d: want rising counts", a.Attack, p.Iters, a.Curve[j-1].Iters)
			}
			for _, v := range []float64{p.Accuracy, p.FinalAccuracy, p.TargetSuccess, p.FinalTargetSuccess, p.Top5, p.FinalTop5} {
				if bad(v) {
					return fmt.Errorf("%s attack: PGD-%d: share %g: want values in [0, 1]", a.Attack, p.Iters, v)
				}
			}
			switch {
			case p.Accuracy > r.Clean:
				return fmt.Errorf("%s attack: PGD-%d accuracy %g exceeds the clean accuracy %g", a.Attack, p.Iters, p.Accuracy, r.Clean)
			case p.Accuracy > p.FinalAccuracy:
				return fmt.Errorf("%s attack: PGD-%d accuracy %g exceeds the accuracy at the K-th iterate %g", a.Attack, p.Iters, p.Accuracy, p.FinalAccuracy)
			case j > 0 && p.Accuracy > a.Curve[j-1].Accuracy:
				return fmt.Errorf("%s attack: accuracy rises from %g at PGD-%d to %g at PGD-%d", a.Attack, a.Curve[j-1].Accuracy, a.Curve[j-1].Iters, p.Accuracy, p.Iters)
			}
		}
	}
	return nil
}

func bad(share float64) bool { return !(share >= 0 && share <= 1) }
