package codegen

import (
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"

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

// The standard specs (the ImageNet ResNets at 224×224, ResNet-20 and
// WRN-28-10 at 32×32) find every convolution in the library of
// specialized kernels: their packages carry no assembly of their own.
// Others (MNIST's 28×28, a WRN-16-2) carry theirs. Every file names the
// command in its first line.
func TestStandardSpecsUseTheLibrary(t *testing.T) {
	eachSpec(t, func(t *testing.T, s *spec.Spec, src []byte) {
		o := Options{Command: "netc compile " + s.File}
		files, err := Generate(s, src, o)
		if err != nil {
			t.Fatal(err)
		}
		standard := s.File != "mnist-resnet.spec" && s.File != "wrn16-2-cifar.spec"
		own := strings.Count(string(files["kernels_amd64.s"]), "\nTEXT ")
		if (own == 0) != standard {
			t.Errorf("%d kernels of its own", own)
		}
		if refers := strings.Contains(string(files["kernels_amd64.go"]), "special.C"); standard && !refers {
			t.Errorf("kernels_amd64.go does not refer to the library")
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
