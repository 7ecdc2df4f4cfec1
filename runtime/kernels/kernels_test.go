package kernels

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netc/netc/runtime/ref"
)

// evex matches the registers only EVEX (AVX-512) encodings reach: on a CPU
// without AVX-512 an AVX2 function using them dies of SIGILL.
var evex = regexp.MustCompile(`\b(Y(1[6-9]|2[0-9]|3[01])|X(1[6-9]|2[0-9]|3[01])|Z[0-9]+|K[0-7])\b`)

func TestAVX2FunctionsUseNoEVEXRegisters(t *testing.T) {
	var funcs []string
	files, _ := filepath.Glob("*_amd64.s")
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		funcs = append(funcs, strings.Split(string(src), "\nTEXT ")[1:]...)
	}
	if len(funcs) == 0 {
		t.Fatal("no assembly functions")
	}
	for _, f := range funcs {
		name := f[:strings.Index(f, "(")]
		if !strings.Contains(name, "AVX2") {
			continue
		}
		if r := evex.FindString(f); r != "" {
			t.Errorf("%s uses %s, which needs AVX-512", name, r)
		}
	}
}

func TestFMAPeakRunsOnEveryAvailableISA(t *testing.T) {
	have := Available()
	if !slices.Contains(have, AVX512) {
		t.Log("this CPU has no AVX-512: the AVX-512 kernels are not run here")
	}
	for _, isa := range have {
		if g := FMAPeak(isa, 1, 20*time.Millisecond); !(g > 0) {
			t.Errorf("%s: FMA peak %v GFLOP/s", isa, g)
		}
	}
}

// Prefer sets what Select returns, refuses an ISA this CPU or build
// lacks (keeping the choice), and "" goes back to the fastest.
func TestPrefer(t *testing.T) {
	have := Available()
	defer Prefer("")
	if err := Prefer(Generic); err != nil {
		t.Fatal(err)
	}
	if isa, err := Select(); err != nil || isa != Generic {
		t.Errorf("Prefer(generic): Select() = %v, %v", isa, err)
	}
	if err := Prefer("sse1"); err == nil || err.Error() != fmt.Sprintf(`"sse1" is not available: this CPU and build offer %v`, have) {
		t.Errorf("Prefer(sse1): %v", err)
	}
	if isa, _ := Select(); isa != Generic {
		t.Errorf("a refused Prefer changed the choice to %v", isa)
	}
	if err := Prefer(""); err != nil {
		t.Fatal(err)
	}
	if isa, _ := Select(); isa != have[len(have)-1] {
		t.Errorf("Prefer(\"\"): Select() = %v, want the fastest of %v", isa, have)
	}
	// Select reads no environment variable.
	t.Setenv("NETC_ISA", "generic")
	if isa, _ := Select(); isa != have[len(have)-1] {
		t.Errorf("NETC_ISA=generic: Select() = %v", isa)
	}
}

// An ISA the build has no kernels for fails loudly, in every kind of
// kernel, rather than running another ISA's.
func TestUnknownISAPanics(t *testing.T) {
	c := ref.Conv{N: 1, C: 16, H: 4, W: 4, K: 16, R: 3, S: 3, Stride: 1, Pad: 1}
	x, w, y := make([]float32, 16*16), make([]float32, WeightsLen(c)), make([]float32, 16*16)
	for name, f := range map[string]func(){
		"ConvForward": func() { ConvForward("neon", c, x, w, y, Epilogue{}) },
		"Sgemm": func() {
			a := ref.Matrix[float32]{Data: x, RS: 16, CS: 1}
			Sgemm("neon", 16, 16, 16, a, a, y, 16, false)
		},
		"Affine":  func() { Affine("neon", 1, 16, 16, x, x[:16], x[:16], false, false, y) },
		"Add":     func() { Add("neon", x, x, y) },
		"FMAPeak": func() { FMAPeak("neon", 1, time.Millisecond) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `unknown ISA "neon"`) {
					t.Errorf("%s on neon: %v, want a panic naming it", name, r)
				}
			}()
			f()
		}()
	}
}
