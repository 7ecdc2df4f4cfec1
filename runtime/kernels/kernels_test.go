package kernels

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netc/netc/asm"
)

// The committed assembly is what the generators write today.
func TestGeneratedIsUpToDate(t *testing.T) {
	for _, f := range asm.Runtime {
		s, stubs, err := asm.Generate("kernels", f.Gens...)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string][]byte{f.Name + "_amd64.s": s, f.Name + "_stubs_amd64.go": stubs} {
			got, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("%s is stale: run go generate ./runtime/kernels", name)
			}
		}
	}
	table, err := asm.OuterTable("kernels")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("outer_table_amd64.go"); err != nil || string(got) != string(table) {
		t.Errorf("outer_table_amd64.go is stale (%v): run go generate ./runtime/kernels", err)
	}
}

// evex matches the registers only EVEX (AVX-512) encodings reach: on a CPU
// without AVX-512 an AVX2 function using them dies of SIGILL.
var evex = regexp.MustCompile(`\b(Y(1[6-9]|2[0-9]|3[01])|X(1[6-9]|2[0-9]|3[01])|Z[0-9]+|K[0-7])\b`)

func TestAVX2FunctionsUseNoEVEXRegisters(t *testing.T) {
	var funcs []string
	for _, f := range asm.Runtime {
		src, err := os.ReadFile(f.Name + "_amd64.s")
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

// TestPrefer: Select returns the ISA that Prefer set, the fastest for
// "", and Prefer refuses an ISA this CPU and build lack, naming it.
func TestPrefer(t *testing.T) {
	defer Prefer("")
	if err := Prefer(Generic); err != nil {
		t.Fatal(err)
	}
	if isa, err := Select(); err != nil || isa != Generic {
		t.Errorf("Prefer(generic): Select() = %v, %v", isa, err)
	}
	if err := Prefer("sse1"); err == nil || !strings.Contains(err.Error(), "sse1") {
		t.Errorf("Prefer(sse1): %v, want an error naming it", err)
	}
	if isa, _ := Select(); isa != Generic {
		t.Errorf("a refused Prefer changed the choice to %v", isa)
	}
	Prefer("")
	if have := Available(); func() ISA { isa, _ := Select(); return isa }() != have[len(have)-1] {
		t.Errorf(`Prefer(""): Select() is not the fastest of %v`, have)
	}
}
