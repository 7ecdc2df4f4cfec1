package codegen

import (
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

func eachSpec(t *testing.T, f func(t *testing.T, s *spec.Spec, src []byte)) {
	names, err := fs.Glob(specs.FS, "*.spec")
	if err != nil || len(names) == 0 {
		t.Fatal("no specs", err)
	}
	for _, name := range names {
		src, err := specs.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := spec.Parse(name, src)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { f(t, s, src) })
	}
}

// TestArenaPlan checks the liveness plan of every spec's programs: two
// buffers that are live at the same call never share memory, and the
// arena is smaller than all buffers side by side.
func TestArenaPlan(t *testing.T) {
	eachSpec(t, func(t *testing.T, s *spec.Spec, _ []byte) {
		g, err := compiler.Lower(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, fold := range []bool{false, true} {
			p := newBuilder(g, fold).build()
			sum := 0
			for i, a := range p.bufs {
				sum += a.size
				if a.first < 0 {
					t.Fatalf("%s: buffer %d is never used", p.name, i)
				}
				for _, b := range p.bufs[:i] {
					if a.first <= b.last && b.first <= a.last && a.off < b.off+b.size && b.off < a.off+a.size {
						t.Fatalf("%s: buffers %+v and %+v overlap while both live", p.name, *a, *b)
					}
				}
				if a.off+a.size > p.size {
					t.Fatalf("%s: buffer %+v outside the arena of %d", p.name, *a, p.size)
				}
			}
			if p.size >= sum {
				t.Errorf("%s: arena of %d floats per image for buffers of %d in all", p.name, p.size, sum)
			}
			t.Logf("%s program: %d calls, %d buffers, arena %.2f MB per image (%.2f MB side by side)",
				p.name, len(p.forward)+len(p.backward), len(p.bufs), float64(4*p.size)/1e6, float64(4*sum)/1e6)
		}
	})
}

// TestGenerate checks every spec compiles into gofmt'd, parseable Go
// files that start with the generated-code header, and that runs of
// blocks keep the code short.
func TestGenerate(t *testing.T) {
	eachSpec(t, func(t *testing.T, s *spec.Spec, src []byte) {
		files, err := Generate(s, src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"model.go", "cmd/" + PackageName(s) + "/main.go", "kernels_amd64.s", "kernels_amd64.go", "kernels_other.go"} {
			b, ok := files[name]
			if !ok {
				t.Fatalf("no %s", name)
			}
			if !strings.HasPrefix(string(b), "// "+Header) {
				t.Errorf("%s does not start with the generated-code header", name)
			}
			if strings.HasSuffix(name, ".go") {
				if _, err := parser.ParseFile(token.NewFileSet(), name, b, 0); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
		if n := files.Lines(); n > 20000 {
			t.Errorf("%d lines of Go", n)
		}
		t.Logf("%d lines of Go", files.Lines())
	})
}

func TestGenerateRejects(t *testing.T) {
	src := []byte("model thin\ninput 1 28 28\nclasses 10\nstem cifar\nblock basic\nstages 1 1 1\nwidth 8\nnorm bn\n")
	s, err := spec.Parse("thin.spec", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(s, src, Options{}); err == nil || !strings.Contains(err.Error(), "multiples of 16") {
		t.Errorf("width 8: %v, want an error about multiples of 16", err)
	}
}

// The standard specs (the ImageNet ResNets at 224×224, ResNet-20 at
// 32×32) find every convolution in the library of specialized kernels:
// their packages carry no assembly of their own. Others (MNIST's 28×28)
// carry theirs, and name the command in their first line.
func TestStandardSpecsUseTheLibrary(t *testing.T) {
	eachSpec(t, func(t *testing.T, s *spec.Spec, src []byte) {
		o := Options{Command: "netc compile " + s.File}
		files, err := Generate(s, src, o)
		if err != nil {
			t.Fatal(err)
		}
		mnist := s.File == "mnist-resnet.spec"
		own := strings.Count(string(files["kernels_amd64.s"]), "\nTEXT ")
		if (own == 0) == mnist {
			t.Errorf("%d kernels of its own", own)
		}
		if refers := strings.Contains(string(files["kernels_amd64.go"]), "special.C"); refers == mnist {
			t.Errorf("kernels_amd64.go refers to the library: %v", refers)
		}
		want := "// " + Header + " compile " + s.File + ". DO NOT EDIT.\n"
		for name, b := range files {
			if name != "weights.ckpt" && !strings.HasPrefix(string(b), want) {
				t.Errorf("%s starts %q, want %q", name, strings.SplitN(string(b), "\n", 2)[0], want)
			}
		}
		t.Logf("%d kernels of its own", own)
	})
}
