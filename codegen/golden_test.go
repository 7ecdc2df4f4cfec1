package codegen

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/netc/netc/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with what the generator writes now")

// TestGolden compiles each spec of testdata/*.txtar (its file "spec")
// and compares the generated Go with the archive's other files, so a
// codegen change shows as a small, reviewable diff of the golden file.
// The assembly is left out (package asm tests it). After a deliberate
// change: go test ./codegen -run Golden -update.
func TestGolden(t *testing.T) {
	archives, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(archives) == 0 {
		t.Fatal("no golden archives", err)
	}
	for _, path := range archives {
		t.Run(filepath.Base(path), func(t *testing.T) {
			a, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Files) == 0 || a.Files[0].Name != "spec" {
				t.Fatalf("%s: the first file must be the spec", path)
			}
			src := a.Files[0].Data
			s, err := spec.Parse("tiny.spec", src)
			if err != nil {
				t.Fatal(err)
			}
			files, err := Generate(s, src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := &txtar.Archive{Comment: a.Comment, Files: []txtar.File{a.Files[0]}}
			for _, name := range []string{"model.go", filepath.Join("cmd", PackageName(s), "main.go")} {
				got.Files = append(got.Files, txtar.File{Name: name, Data: files[name]})
			}
			if *update {
				if err := os.WriteFile(path, txtar.Format(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(txtar.Format(got), txtar.Format(a)) {
				want := map[string]string{}
				for _, f := range a.Files {
					want[f.Name] = string(f.Data)
				}
				for _, f := range got.Files {
					if d := cmp.Diff(strings.Split(want[f.Name], "\n"), strings.Split(string(f.Data), "\n")); d != "" {
						t.Errorf("%s: generated %s differs from the golden file (-want +got; rerun with -update if deliberate):\n%s", path, f.Name, d)
					}
				}
			}
		})
	}
}
