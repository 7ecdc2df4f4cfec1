package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/netc/netc/codegen"
	"github.com/netc/netc/spec"
)

func runBuild(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	var c compileFlags
	c.register(fs)
	out := fs.String("o", "", "the model binary (default: the package name, in this directory)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badf("build: want one SPEC file, got %d arguments", len(pos))
	}
	start := time.Now()
	s, src, o, err := c.prepare(pos[0])
	if err != nil {
		return err
	}
	bin := *out
	if bin == "" {
		bin = o.Package
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	if err := buildBinary(s, src, o, bin); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "netc build: %s -> %s in %s\n", pos[0], bin, time.Since(start).Round(time.Millisecond))
	return nil
}

// sourceRoot is the directory of netc's own module, whose runtime a model
// binary links, or "" if netc was built elsewhere.
func sourceRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(file))) // .../cmd/netc/build.go
	if mod, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil && strings.HasPrefix(string(mod), "module github.com/netc/netc\n") {
		return root
	}
	return ""
}

// netcRequire is the go.mod text that brings in netc's runtime: a replace
// of the source tree netc was built from, else netc's module version.
func netcRequire() (string, error) {
	if root := sourceRoot(); root != "" {
		return fmt.Sprintf("require github.com/netc/netc v0.0.0\n\nreplace github.com/netc/netc => %s\n", root), nil
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == "github.com/netc/netc" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return fmt.Sprintf("require github.com/netc/netc %s\n", bi.Main.Version), nil
	}
	return "", errors.New("cannot locate netc's runtime to build a model binary (netc was built outside its source tree, without a version); train, eval and the other commands need no model binary")
}

// buildBinary generates the package of spec s (source src) as a module
// in netc's cache and builds its model binary at bin with the go
// command, which rebuilds only what changed.
func buildBinary(s *spec.Spec, src []byte, o codegen.Options, bin string) error {
	req, err := netcRequire()
	if err != nil {
		return err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return err
	}
	o.Module = "netc.build/" + o.Package
	files, err := codegen.Generate(s, src, o)
	if err != nil {
		return bad(err)
	}
	files["go.mod"] = fmt.Appendf(nil, "module %s\n\ngo 1.26\n\n%s", o.Module, req)
	if root := sourceRoot(); root != "" {
		if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
			files["go.sum"] = sum
		}
	}
	// The cache key: the spec (in model.go), the weights and netc's origin.
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	dir := filepath.Join(cache, "netc", "build", fmt.Sprintf("%s-%x", o.Package, h.Sum(nil)[:8]))
	if err := writeFiles(dir, files); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+o.Package)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the model binary in %s: %w\n%s", dir, err, out)
	}
	now := time.Now()
	os.Chtimes(dir, now, now)
	prune(filepath.Dir(dir), o.Package)
	return nil
}

// keepBuilds is how many build folders of one package the cache keeps.
const keepBuilds = 4

// prune removes all but the keepBuilds most recently used build folders
// of package pkg under root.
func prune(root, pkg string) {
	dirs, _ := filepath.Glob(filepath.Join(root, pkg+"-*"))
	if len(dirs) <= keepBuilds {
		return
	}
	used := map[string]time.Time{}
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil {
			used[d] = fi.ModTime()
		}
	}
	slices.SortFunc(dirs, func(a, b string) int { return used[b].Compare(used[a]) })
	for _, d := range dirs[keepBuilds:] {
		os.RemoveAll(d)
	}
}
