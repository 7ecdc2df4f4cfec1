package main

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	pathpkg "path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"github.com/netc/netc/codegen"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
	"golang.org/x/mod/modfile"
)

// compileFlags are the flags of compile and build.
type compileFlags struct {
	pkg, weights, input string
	command             string // the command line, for the generated files' first line
}

func (c *compileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.pkg, "package", "", "Go package name (default: the spec's model name)")
	fs.StringVar(&c.weights, "weights", "", "embed this checkpoint (or RUN folder) as the model's weights; adds Load")
	fs.StringVar(&c.input, "input", "", "override the spec's input size, C,H,W (e.g. 3,64,64)")
}

// generate parses the spec and generates its package for directory dir
// (which fixes the import path of the model binary's import).
func (c *compileFlags) generate(path, dir string) (*spec.Spec, codegen.Files, error) {
	s, src, o, err := c.prepare(path)
	if err != nil {
		return nil, nil, err
	}
	if dir == "" {
		dir = o.Package
	}
	if o.Module, err = importPath(dir); err != nil {
		return nil, nil, err
	}
	o.Command = c.command
	files, err := codegen.Generate(s, src, o)
	if err != nil {
		return nil, nil, bad(err)
	}
	return s, files, nil
}

// prepare parses the spec and reads the weights: what codegen.Generate
// takes but the module path.
func (c *compileFlags) prepare(path string) (*spec.Spec, []byte, codegen.Options, error) {
	var o codegen.Options
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, o, bad(err)
	}
	s, err := spec.Parse(path, src)
	if err != nil {
		return nil, nil, o, bad(err)
	}
	if c.input != "" {
		in, err := ints(c.input)
		if err != nil || len(in) != 3 || in[0] != s.Input[0] || in[1] < 1 || in[2] < 1 {
			return nil, nil, o, badf("--input %q: want C,H,W with the spec's %d channels", c.input, s.Input[0])
		}
		s.Input = [3]int{in[0], in[1], in[2]}
		src = withInput(src, in)
	}
	o.Package = c.pkg
	if o.Package == "" {
		o.Package = codegen.PackageName(s)
	}
	if c.weights != "" {
		ck, err := train.OpenCheckpoint(train.CheckpointPath(c.weights))
		if err != nil {
			return nil, nil, o, bad(err)
		}
		ws, err := spec.Parse(ck.Path+"[spec]", []byte(ck.Meta.Spec))
		if err != nil {
			return nil, nil, o, badf("%s: its spec does not parse: %w", ck.Path, err)
		}
		if !spec.SameNetwork(s, ws) {
			return nil, nil, o, badf("--weights %s: trained for a different network than %s", ck.Path, path)
		}
		if o.Weights, err = ck.WeightsOnly(); err != nil {
			return nil, nil, o, err
		}
	}
	return s, src, o, nil
}

// importPath is the import path of directory dir, from the go.mod of
// the module it is in.
func importPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for root := abs; ; root = filepath.Dir(root) {
		if mod, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
			path := modfile.ModulePath(mod)
			if path == "" {
				return "", fmt.Errorf("%s: no module line", filepath.Join(root, "go.mod"))
			}
			rel, err := filepath.Rel(root, abs)
			if err != nil {
				return "", err
			}
			return pathpkg.Join(path, filepath.ToSlash(rel)), nil
		}
		if filepath.Dir(root) == root {
			pkg := filepath.Base(abs)
			fmt.Fprintf(os.Stderr, "netc compile: %s is in no Go module; its model binary imports it as %q: run 'go mod init %s' there (with a replace of github.com/netc/netc if netc is not published where you build)\n", dir, pkg, pkg)
			return pkg, nil
		}
	}
}

// withInput rewrites the sizes on a spec's input line.
func withInput(src []byte, in []int) []byte {
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == "input" {
			f[1], f[2], f[3] = strconv.Itoa(in[0]), strconv.Itoa(in[1]), strconv.Itoa(in[2])
			lines[i] = strings.Join(f, " ")
			break
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

func runCompile(args []string) error {
	fs := flag.NewFlagSet("compile", flag.ContinueOnError)
	var c compileFlags
	c.register(fs)
	out := fs.String("o", "", "output directory (default: the package name)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badf("compile: want one SPEC file, got %d arguments", len(pos))
	}
	start := time.Now()
	c.command = "netc compile " + strings.Join(args, " ")
	dir := *out
	if dir == "" {
		dir = c.pkg
	}
	s, files, err := c.generate(pos[0], dir)
	if err != nil {
		return err
	}
	if dir == "" {
		dir = codegen.PackageName(s)
	}
	if err := writeFiles(dir, files); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "netc compile: %s -> %s: %d files, %d lines of Go in %s\n",
		pos[0], dir, len(files), files.Lines(), time.Since(start).Round(time.Millisecond))
	return nil
}

// writeFiles writes files under dir, each atomically, leaving files that
// are already up to date untouched, and removes the files an earlier
// compile generated there that files no longer has (embed.go and its
// weights, say).
func writeFiles(dir string, files codegen.Files) error {
	old, _ := filepath.Glob(filepath.Join(dir, "*"))
	mains, _ := filepath.Glob(filepath.Join(dir, "cmd", "*", "main.go"))
	for _, p := range append(old, mains...) {
		rel, _ := filepath.Rel(dir, p)
		if _, ok := files[rel]; ok {
			continue
		}
		b, err := os.ReadFile(p)
		if err == nil && (bytes.HasPrefix(b, []byte("// "+codegen.Header)) || rel == "weights.ckpt" && files["embed.go"] == nil) {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, name)
		if old, err := os.ReadFile(p); err == nil && string(old) == string(files[name]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := renameio.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
