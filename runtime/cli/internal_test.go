package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/interp"
)

// TestMainRecovers: a panic in a model binary's command line is an
// internal error, exit status 3, whose stack trace goes to a file.
func TestMainRecovers(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	code := Main(func(uint64) (*interp.Model, error) { panic("no model today") }, []string{"train"})
	os.Stderr = old
	w.Close()
	msg, _ := io.ReadAll(r)
	if code != 3 || !strings.HasPrefix(string(msg), "model: internal error: no model today; stack trace written to "+os.TempDir()) {
		t.Fatalf("exit %d, stderr %q; want 3 and the internal error", code, msg)
	}
	files, _ := filepath.Glob(filepath.Join(os.TempDir(), "model-crash-*.txt"))
	if len(files) != 1 {
		t.Fatalf("stack trace files %v, want one", files)
	}
	if b, _ := os.ReadFile(files[0]); !strings.Contains(string(b), "no model today") || !strings.Contains(string(b), "TestMainRecovers") {
		t.Errorf("stack trace file:\n%s", b)
	}
}

// TestMainISA: a model binary takes NETC_ISA as netc does; one this CPU
// lacks is bad input naming the variable (exit status 2), before any
// model is built.
func TestMainISA(t *testing.T) {
	t.Setenv("NETC_ISA", "sse1")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	code := Main(func(uint64) (*interp.Model, error) { panic("built a model") }, []string{"train"})
	os.Stderr = old
	w.Close()
	msg, _ := io.ReadAll(r)
	if code != 2 || !strings.HasPrefix(string(msg), `model: NETC_ISA: "sse1" is not available`) {
		t.Errorf("exit %d, stderr %q; want 2 and a message naming NETC_ISA", code, msg)
	}
}
