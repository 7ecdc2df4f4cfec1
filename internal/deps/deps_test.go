package deps

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbidden are the import paths (and path prefixes) that nothing under
// runtime/ and no model binary may link: the generators and their
// libraries. Only codegen, cmd/netc and the gen programs (go generate)
// import them.
var forbidden = []string{
	"github.com/mmcloughlin/avo",
	"github.com/dave/jennifer",
	"github.com/netc/netc/asm",
	"github.com/netc/netc/codegen",
}

// The runtime packages (but the gen programs) and every committed model
// binary (generated/*/cmd/*) link no generator: what go list -deps of
// each lists holds none of forbidden.
func TestRuntimeLinksNoGenerator(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "./runtime/...", "./generated/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for line := range strings.Lines(string(out)) {
		pkg, deps, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !checkedPackage(pkg) {
			continue
		}
		checked++
		for dep := range strings.FieldsSeq(deps) {
			if slices.ContainsFunc(forbidden, func(f string) bool { return dep == f || strings.HasPrefix(dep, f+"/") }) {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
	t.Logf("%d packages checked", checked)
	if checked < 10 {
		t.Fatalf("only %d packages checked:\n%s", checked, out)
	}
}

// checkedPackage reports whether the test checks pkg: a package under
// runtime/ but a gen program, or a model binary under generated/.
func checkedPackage(pkg string) bool {
	rel, ok := strings.CutPrefix(pkg, "github.com/netc/netc/")
	if !ok {
		return false
	}
	elems := strings.Split(rel, "/")
	switch elems[0] {
	case "runtime":
		return !slices.Contains(elems, "gen")
	case "generated":
		return len(elems) >= 3 && elems[len(elems)-2] == "cmd"
	}
	return false
}
