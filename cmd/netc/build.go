package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netc/netc/codegen"
	"github.com/netc/netc/runtime/cli"
	"github.com/netc/netc/runtime/nn"
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
	if _, err := buildBinary(s, src, o, bin); err != nil {
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
	return "", errors.New("cannot locate netc's runtime to build a model binary (netc was built outside its source tree, without a version); use --interp")
}

// buildBinary generates the package of spec s (source src) as a module
// in netc's cache and builds its model binary at bin (if "", in that
// module's folder, named by the package) with the go command, which
// rebuilds only what changed. It returns the binary's path.
func buildBinary(s *spec.Spec, src []byte, o codegen.Options, bin string) (string, error) {
	req, err := netcRequire()
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	o.Module = "netc.build/" + o.Package
	files, err := codegen.Generate(s, src, o)
	if err != nil {
		return "", bad(err)
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
		return "", err
	}
	if bin == "" {
		bin = filepath.Join(dir, o.Package)
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+o.Package)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the model binary in %s: %v\n%s", dir, err, out)
	}
	now := time.Now()
	os.Chtimes(dir, now, now)
	prune(filepath.Dir(dir), o.Package)
	return bin, nil
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

// compiledModel is the factory of netc train and eval without --interp:
// it asks for a model binary to be built and run (errExec).
func compiledModel(s *spec.Spec, seed uint64) (nn.Model, error) {
	return nil, errExec{s}
}

// errExec is compiledModel's request to hand the command over to the
// spec's model binary.
type errExec struct{ s *spec.Spec }

func (e errExec) Error() string { return "internal: model binary requested for " + e.s.File }

// viaBinary runs a train, eval or bench command: in process on the
// interpreter with --interp, else in the spec's compiled model binary,
// built into netc's cache, with the same arguments but the spec file's
// path (the binary has its spec compiled in).
func viaBinary(name string, args []string, run func(cli.Factory, []string) error) error {
	interp, rest, err := interpFlag(args)
	if err != nil {
		return err
	}
	if interp {
		return withInterpHelp(run(interpreted, rest))
	}
	err = withInterpHelp(run(compiledModel, rest))
	var ee errExec
	if !errors.As(err, &ee) {
		return err
	}
	s := ee.s
	o := codegen.Options{Package: codegen.PackageName(s)}
	fmt.Fprintf(os.Stderr, "netc %s: building the compiled model %s (--interp: run on the interpreter)\n", name, o.Package)
	bin, err := buildBinary(s, []byte(s.String()), o, "")
	if err != nil {
		if errors.As(err, new(cli.BadInput)) { // a spec the compiler does not take
			fmt.Fprintf(os.Stderr, "netc %s: %v; running on the interpreter\n", name, err)
			return run(interpreted, rest)
		}
		return err
	}
	// The arguments go on as they are: a model binary takes the spec
	// file too, if it is its own network (cli's compiledSpecArg).
	return runChild(bin, append([]string{name}, rest...))
}

// runChild runs the model binary bin with args, on netc's standard
// streams, and waits for it. The child dies with netc: it gets SIGHUP,
// on which a trainer checkpoints and stops, when netc ends however it
// ends, SIGKILL included (on Linux: a parent-death signal; see
// childAttr), and Ctrl-C and SIGTERM sent to netc are passed on to it. It
// runs in a process group of its own. Its exit status becomes netc's; a
// child killed by a signal is an error saying so.
func runChild(bin string, args []string) error {
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = childAttr()
	// The parent-death signal fires when the thread that started the
	// child exits, not the process: keep this goroutine on its thread
	// until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		for s := range sig {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	var xe *exec.ExitError
	if !errors.As(err, &xe) {
		return err
	}
	if ws, ok := xe.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Errorf("model binary %s killed by signal %d (%v)", bin, int(ws.Signal()), ws.Signal())
	}
	return exitStatus(xe.ExitCode())
}

// interpFlag takes netc's own flag --interp (also -interp, --interp=BOOL)
// out of the arguments of a command that viaBinary runs, up to a "--".
func interpFlag(args []string) (interp bool, rest []string, err error) {
	for i, a := range args {
		if a == "--" {
			return interp, append(rest, args[i:]...), nil
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name != "interp" || !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		interp = true
		if hasValue {
			if interp, err = strconv.ParseBool(value); err != nil {
				return false, nil, badf("%s: invalid boolean value %q", a, value)
			}
		}
	}
	return interp, rest, nil
}

// withInterpHelp returns a command's err, after writing --interp's help
// below the command's flags if err is flag.ErrHelp.
func withInterpHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		printInterpFlag(os.Stderr)
	}
	return err
}

// printInterpFlag writes --interp's line of help, as the flag package
// prints flags.
func printInterpFlag(w io.Writer) {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.Bool("interp", false, "run in process on the interpreter instead of the spec's compiled model binary\n(which netc builds into the user cache directory the first time: minutes)")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// exitStatus is a model binary's exit status, passed on as netc's.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
