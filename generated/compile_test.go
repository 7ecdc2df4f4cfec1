package generated_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// specsInTests are the specs whose packages are not committed: the tests
// compile them into a temporary folder. run: compiled at 32×32 (the
// ImageNet ResNets are too slow at 224 for a test) and checked with
// modelcheck (predict: Predict too); the others, at their own size,
// only built.
var specsInTests = []struct {
	spec, pkg    string
	run, predict bool
}{
	{"resnet50.spec", "resnet50", true, true},
	{"resnet152.spec", "resnet152", true, false},
	{"resnet152-gn.spec", "resnet152gn", true, true},
	{"resnet338.spec", "resnet338", true, false},
	{"resnet638.spec", "resnet638", true, false},
	{"resnet152.spec", "resnet152", false, false},
	{"resnet152-gn.spec", "resnet152gn", false, false},
	{"resnet338.spec", "resnet338", false, false},
	{"resnet638.spec", "resnet638", false, false},
	{"wrn16-2-cifar.spec", "wrn162", true, true},
	{"wrn28-10-cifar.spec", "wrn2810", false, false},
}

// TestCompiledInTemp compiles specsInTests with netc compile into a
// temporary folder under testdata (so that the packages are in this
// module), builds them and their model binaries (go vet), and runs the
// checks of every committed model (modelcheck) on the 32×32 ones in a
// test there. It takes about a minute; -short skips it.
func TestCompiledInTemp(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles, builds and runs nine models; -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("testdata", "compiled-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove("testdata") // if nothing else is there
	})
	netc := filepath.Join(t.TempDir(), "netc")
	goCmd(t, ".", "build", "-o", netc, "../cmd/netc")

	var imports, checks strings.Builder
	for _, c := range specsInTests {
		args := []string{"compile", "../specs/" + c.spec}
		sub := c.pkg
		if c.run {
			args = append(args, "--input", "3,32,32")
			sub = "reduced" + c.pkg
			fmt.Fprintf(&imports, "\t%s %q\n", sub, "github.com/netc/netc/generated/"+filepath.ToSlash(filepath.Join(dir, sub)))
			fmt.Fprintf(&checks, "\tt.Run(%q, func(t *testing.T) { modelcheck.MatchesInterpreter(t, modelcheck.Wrap(%s.New), 2) })\n", sub, sub)
			if c.predict {
				fmt.Fprintf(&checks, "\tt.Run(%q, func(t *testing.T) { modelcheck.Predict(t, modelcheck.Wrap(%s.New), 2) })\n", sub+"/predict", sub)
			}
		}
		args = append(args, "--package", sub, "-o", filepath.Join(dir, sub))
		if out, err := exec.Command(netc, args...).CombinedOutput(); err != nil {
			t.Fatalf("netc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	test := fmt.Sprintf(`package compiled_test

import (
	"testing"

	"github.com/netc/netc/generated/internal/modelcheck"
%s)

func TestMain(m *testing.M) { modelcheck.Main(m) }

func TestCompiledMatchesInterpreter(t *testing.T) {
%s}
`, imports.String(), checks.String())
	if err := os.WriteFile(filepath.Join(dir, "compiled_test.go"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs := "./" + filepath.ToSlash(dir)
	goCmd(t, ".", "vet", pkgs+"/...")
	t.Log(goCmd(t, ".", "test", "-count=1", pkgs))
}

// goCmd runs the go command in dir and returns its output; it fails the
// test with the output if the command fails.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
