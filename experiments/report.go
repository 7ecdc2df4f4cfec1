package experiments

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/google/renameio/v2"
)

// Command is how a newcomer reruns (or resumes) one row.
func (g *Grid) Command(row string) string {
	return fmt.Sprintf("netc reproduce %s --row %s", g.Name, row)
}

// robust is a result's accuracy at the grid's largest PGD count: correct
// clean and at every iterate (eval.Point.Accuracy).
func robust(r *Result) float64 { return r.Eval.Curve[len(r.Eval.Curve)-1].Accuracy }

// protocolNote says how the report's robust accuracies count.
const protocolNote = "Robust accuracy (PGD-K) counts an image only if it is classified correctly clean and at every iterate up to K " +
	"(each attack starts at a random point of the ε-cube); in parentheses, the paper's protocol: correct at the K-th iterate. " +
	"The findings compare the first."

// Report writes the grid's section of docs/REPRODUCTION.md: the budget,
// a table per group of rows (rows without results say so), the figures
// and one line per finding of the paper.
func (g *Grid) Report(w io.Writer, res map[string]*Result, figures []string) {
	fmt.Fprintf(w, "## %s\n\n", g.Title)
	fmt.Fprintf(w, "Budget and protocol, fixed before any run: %s\n\n", g.Budget)
	fmt.Fprintf(w, "%s\n\n", protocolNote)
	iters := g.Eval.Iters
	head := "| strategy | clean |"
	rule := "| --- | --- |"
	for _, k := range iters {
		head += fmt.Sprintf(" PGD-%d |", k)
		rule += " --- |"
	}
	group := ""
	for _, row := range g.Rows {
		if strings.HasSuffix(row.Group, "-init") {
			continue
		}
		if row.Group != group {
			group = row.Group
			fmt.Fprintf(w, "\n%s:\n\n%s rerun |\n%s --- |\n", strings.ToUpper(group[:1])+group[1:], head, rule)
		}
		r := res[row.Name]
		switch {
		case r == nil:
			fmt.Fprintf(w, "| %s | not run yet |%s `%s` |\n", row.Label, strings.Repeat(" |", len(iters)), g.Command(row.Name))
			continue
		case r.Failed != "":
			fmt.Fprintf(w, "| %s | diverged |%s `%s` |\n", row.Label, strings.Repeat(" |", len(iters)), g.Command(row.Name))
			continue
		}
		fmt.Fprintf(w, "| %s | %.1f |", row.Label, 100*r.Eval.Clean)
		for _, p := range r.Eval.Curve {
			fmt.Fprintf(w, " %.1f (%.1f) |", 100*p.Accuracy, 100*p.FinalAccuracy)
		}
		fmt.Fprintf(w, " `%s` |\n", g.Command(row.Name))
	}
	fmt.Fprintln(w)
	var warned []string
	for _, row := range g.Rows {
		if r := res[row.Name]; r != nil && r.Failed != "" {
			warned = append(warned, fmt.Sprintf("- %s did not finish: %s", row.Name, r.Failed))
		} else if r != nil {
			for _, msg := range r.Eval.Warnings {
				warned = append(warned, fmt.Sprintf("- %s: %s", row.Name, msg))
			}
		}
	}
	if len(warned) > 0 {
		fmt.Fprintf(w, "The evaluations' self-checks warned:\n\n%s\n\n", strings.Join(warned, "\n"))
	}
	for _, f := range figures {
		fmt.Fprintf(w, "![%s](%s)\n\n", f, f)
	}
	fmt.Fprintf(w, "Findings of the paper at this scale (a difference counts when it is at least %.1f points", 100*margin)
	if n := g.Eval.Limit; n > 0 {
		fmt.Fprintf(w, "; the standard error of one accuracy on %d images is at most %.1f points", n, 100*math.Sqrt(0.25/float64(n)))
	}
	fmt.Fprint(w, "):\n\n")
	for _, f := range g.findings(res) {
		fmt.Fprintf(w, "- %s\n", f)
	}
	fmt.Fprintln(w)
}

// margin is the smallest difference of accuracies that counts.
const margin = 0.025

// verdict names the outcome of a comparison where the paper found
// d > 0: reproduced, contradicted (d < 0), or not at this scale.
func verdict(d float64) string {
	switch {
	case d >= margin:
		return "**reproduced**"
	case d <= -margin:
		return "**contradicted**"
	}
	return "**not at this scale**"
}

// findings compares rows as the paper's findings do.
func (g *Grid) findings(res map[string]*Result) []string {
	k := g.Eval.Iters[len(g.Eval.Iters)-1]
	var out []string
	have := func(names ...string) bool {
		for _, n := range names {
			if res[n] == nil || res[n].Failed != "" {
				return false
			}
		}
		return true
	}
	pct := func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }
	cmp := func(claim, better, worse string) {
		if !have(better, worse) {
			out = append(out, claim+": no numbers (a row is not run yet or diverged).")
			return
		}
		b, w := robust(res[better]), robust(res[worse])
		out = append(out, fmt.Sprintf("%s: %s (PGD-%d accuracy %s for %s vs %s for %s).", claim, verdict(b-w), k, pct(b), better, pct(w), worse))
	}
	cmp("Under BN, adversarial images only are more robust than adversarial plus clean images (Fig. 1)", "adv100-clean0", "adv100-clean100")
	cmp("Under BN, 20% clean images already cost robustness against 0%", "adv100-clean0", "adv100-clean20")
	cmp("MBN_adv is more robust than BN on the same mixed batches", "mbn-adv", "adv100-clean100")
	cmp("GN is more robust than BN on the same mixed batches", "gn", "adv100-clean100")
	cmp("ALP does not close the gap of mixed batches under BN", "adv100-clean0", "adv100-clean100-alp")
	cmp("Running statistics in the last epochs help adversarial-only training", "adv100-clean0-rs", "adv100-clean0")
	cmp(fmt.Sprintf("Trained with a weak attacker (PGD-%d), adversarial-only stays more robust than mixed batches", g.WeakSteps),
		fmt.Sprintf("pgd%d-clean0", g.WeakSteps), fmt.Sprintf("pgd%d-clean100", g.WeakSteps))
	if have("mbn-clean", "mbn-adv") {
		c, a := res["mbn-clean"].Eval.Clean, res["mbn-adv"].Eval.Clean
		out = append(out, fmt.Sprintf("MBN_clean is more accurate on clean images than MBN_adv: %s (clean accuracy %s vs %s).", verdict(c-a), pct(c), pct(a)))
	}
	if have("standard-bn") {
		r := robust(res["standard-bn"])
		v := "**reproduced**"
		if r >= 0.05 {
			v = "**not at this scale**"
		}
		out = append(out, fmt.Sprintf("Standard training has no robustness: %s (PGD-%d accuracy %s).", v, k, pct(r)))
	}
	if have("mbn-adv", "mbn-share-stats", "mbn-share-affine") {
		out = append(out, fmt.Sprintf("MBN ablation (which part of MBN's separation matters; no verdict, the summary of the paper gives no number): PGD-%d accuracy %s with separate statistics and affine parameters, %s sharing the statistics, %s sharing the affine parameters.",
			k, pct(robust(res["mbn-adv"])), pct(robust(res["mbn-share-stats"])), pct(robust(res["mbn-share-affine"]))))
	}
	if have("adv-depth8", "adv-depth20") {
		d, s := res["adv-depth20"], res["adv-depth8"]
		gain, cleanGain := robust(d)-robust(s), d.Eval.Clean-s.Eval.Clean
		out = append(out, fmt.Sprintf("Depth raises robustness more than clean accuracy (Fig. 7): %s (from ResNet-8 to ResNet-20: PGD-%d %s to %s, clean %s to %s).",
			verdict(min(gain, gain-cleanGain)), k, pct(robust(s)), pct(robust(d)), pct(s.Eval.Clean), pct(d.Eval.Clean)))
	}
	return out
}

// WriteDoc puts the grid's section into the markdown file at path,
// between markers, keeping the other grids' sections; a new file gets
// a title and an introduction.
func (g *Grid) WriteDoc(path string, res map[string]*Result, figures []string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	if doc == "" {
		doc = docIntro
	}
	begin, end := fmt.Sprintf("<!-- %s grid: written by netc reproduce %s -->\n", g.Name, g.Name), fmt.Sprintf("<!-- end of %s grid -->\n", g.Name)
	var b strings.Builder
	b.WriteString(begin)
	g.Report(&b, res, figures)
	b.WriteString(end)
	if i := strings.Index(doc, begin); i >= 0 {
		if j := strings.Index(doc[i:], end); j >= 0 {
			doc = doc[:i] + b.String() + doc[i+j+len(end):]
			return renameio.WriteFile(path, []byte(doc), 0o644)
		}
	}
	return renameio.WriteFile(path, []byte(doc+"\n"+b.String()), 0o644)
}

const docIntro = `# Reproduction at small scale

The experiments of Xie & Yuille, "Intriguing Properties of Adversarial
Training at Scale" (ICLR 2020), run by netc on small data sets. Each grid
below is written by its make target (` + "`make reproduce-mnist`, `make reproduce-cifar`" + `,
that is ` + "`netc reproduce GRID`" + `); every number comes from those runs, and
each row's command reruns (or resumes) that row alone. The protocol of
each grid was fixed before any of its runs and not tuned afterwards. The
paper itself notes that on small data sets the two domains (clean and
adversarial images) are closer, so some of its effects may not show here:
each finding says whether it does.
`
