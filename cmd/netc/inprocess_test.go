package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netc/netc/runtime/train"
)

// The netc binary the tests below run, built once.
var (
	netcOnce sync.Once
	netcBin  string
	netcErr  error
)

// netcBinary builds netc into a folder of its own, the only file there,
// and returns its path.
func netcBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds netc")
	}
	netcOnce.Do(func() {
		dir, err := os.MkdirTemp("", "netc-bin-")
		if err != nil {
			netcErr = err
			return
		}
		netcBin = filepath.Join(dir, "netc")
		if out, err := exec.Command("go", "build", "-o", netcBin, ".").CombinedOutput(); err != nil {
			netcErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if netcErr != nil {
		t.Fatal(netcErr)
	}
	return netcBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if netcBin != "" {
		os.RemoveAll(filepath.Dir(netcBin))
	}
	os.Exit(code)
}

// bare is an environment with only netc on PATH (no go command), and a
// HOME, a Go build cache and a temporary folder that are new and empty.
func bare(t *testing.T, netc string) []string {
	t.Helper()
	return []string{"PATH=" + filepath.Dir(netc), "HOME=" + t.TempDir(), "GOCACHE=" + t.TempDir(), "TMPDIR=" + t.TempDir()}
}

// tinyTraining is a spec of 3x8x8 images of 4 classes and an ImageFolder
// tree for it, in a new folder, and the train command line of a run in
// folder run, with more flags.
func tinyTraining(t *testing.T, run string, more ...string) []string {
	t.Helper()
	dir := t.TempDir()
	four := []string{"a", "b", "c", "d"}
	tree := writeImageFolder(t, filepath.Join(dir, "tree"), map[string][]string{"train": four, "test": four})
	spec := writeSpec(t, dir, "tiny", 4, 16)
	return append([]string{"train", spec, "--data", "imagefolder:" + tree, "--out", run, "--batch", "4", "--attack-steps", "1", "--test-limit", "4"}, more...)
}

// TestTrainWithoutGo: netc train needs no Go toolchain. With only the
// netc binary on PATH and an empty HOME and build cache it trains a tiny
// spec and writes a checkpoint; it used to build a model binary with the
// go command (exit 1: executable file not found).
func TestTrainWithoutGo(t *testing.T) {
	netc := netcBinary(t)
	env := bare(t, netc)
	run := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(netc, tinyTraining(t, run, "--epochs", "2")...)
	cmd.Env = env
	stderr, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("netc train with PATH=%s only: %v\n%s", filepath.Dir(netc), err, tail(stderr))
	}
	c, err := train.OpenCheckpoint(filepath.Join(run, "checkpoints", "last.safetensors"))
	if err != nil {
		t.Fatalf("no checkpoint after netc train: %v\n%s", err, tail(stderr))
	}
	if c.Meta.State.Epoch != 2 || c.Meta.State.Step != 4 {
		t.Errorf("the checkpoint is at epoch %d, step %d; want 2, 4", c.Meta.State.Epoch, c.Meta.State.Step)
	}
	for _, dir := range []string{env[1], env[2]} { // HOME and GOCACHE
		if entries, _ := os.ReadDir(strings.SplitN(dir, "=", 2)[1]); len(entries) > 0 {
			t.Errorf("netc train wrote into %s: %d entries (a model binary's build?)", dir, len(entries))
		}
	}
}

// TestTrainSignals: netc train trains in its own process (the run
// folder's lock holds netc's PID: no model binary), and SIGINT or SIGTERM
// stops it with exit status 1 after it checkpoints where it stands; the
// same command resumes from there. Killed (SIGKILL) at any moment, it
// leaves its last good checkpoint.
func TestTrainSignals(t *testing.T) {
	netc := netcBinary(t)
	env := bare(t, netc)
	run := filepath.Join(t.TempDir(), "run")
	args := tinyTraining(t, run, "--epochs", "100000", "--checkpoint-every", "1ms")
	ckptPath := filepath.Join(run, "checkpoints", "last.safetensors")
	step := 0 // of the last checkpoint
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		logPath := filepath.Join(t.TempDir(), "log")
		log, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(netc, args...)
		cmd.Env, cmd.Stderr = env, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		log.Close()
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		waitTraining(t, run, cmd.Process.Pid, step, exited, logPath)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-exited:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatalf("run %d: netc train still runs a minute after %v", i, sig)
		}
		stderr, _ := os.ReadFile(logPath)
		c, err := train.OpenCheckpoint(ckptPath)
		if err != nil {
			t.Fatalf("run %d, after %v: the checkpoint is lost: %v\n%s", i, sig, err, tail(stderr))
		}
		if c.Meta.State.Step <= step {
			t.Errorf("run %d: the checkpoint is at step %d, not after the last run's %d", i, c.Meta.State.Step, step)
		}
		step = c.Meta.State.Step
		if sig == syscall.SIGKILL {
			continue
		}
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(stderr), "train: interrupted: checkpointing where the run stands") ||
			!strings.Contains(string(stderr), "checkpoint saved; run again to resume") {
			t.Errorf("run %d: after %v netc exited %d (want 1), stderr:\n%s", i, sig, code, tail(stderr))
		}
	}
	// The same command, to the next epoch's end.
	c, err := train.OpenCheckpoint(ckptPath)
	if err != nil {
		t.Fatal(err)
	}
	epochs := c.Meta.State.Epoch + 1
	args[len(args)-3] = strconv.Itoa(epochs) // --epochs
	cmd := exec.Command(netc, args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "resuming") {
		t.Fatalf("resuming: %v\n%s", err, tail(out))
	}
	if c, err = train.OpenCheckpoint(ckptPath); err != nil || c.Meta.State.Epoch != epochs {
		t.Errorf("resumed to epoch %d: %v, want %d", c.Meta.State.Epoch, err, epochs)
	}
}

// waitTraining waits until process pid holds the lock of run folder dir
// and has checkpointed after step. It fails, showing the log at logPath,
// if the process exits first.
func waitTraining(t *testing.T, dir string, pid, step int, exited <-chan struct{}, logPath string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("netc train exited before it trained:\n%s", tail(log))
		case <-time.After(20 * time.Millisecond):
		}
		b, err := os.ReadFile(filepath.Join(dir, "lock"))
		if err != nil {
			continue
		}
		holder, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || holder != pid {
			continue // not yet written, or an earlier run's
		}
		if c, err := train.OpenCheckpoint(filepath.Join(dir, "checkpoints", "last.safetensors")); err == nil && c.Meta.State.Step > step {
			return
		}
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("netc (process %d) did not train in its own process within a minute:\n%s", pid, tail(log))
}

// tail is the end of a log, for messages.
func tail(b []byte) string {
	return string(b[max(0, len(b)-2000):])
}

// TestBuildModelBinary: netc build still makes the spec's model binary
// (with the go command), and the model binary takes netc's train command
// line as it is, SPEC argument included, and trains.
func TestBuildModelBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a model binary")
	}
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache))) // warm, though the user cache moves
	t.Setenv("XDG_CACHE_HOME", t.TempDir())                 // netc build's module folder
	run := filepath.Join(t.TempDir(), "run")
	args := tinyTraining(t, run, "--epochs", "1")
	bin := filepath.Join(t.TempDir(), "tiny")
	if code, _, stderr := runCapture(t, "build", args[1], "-o", bin); code != 0 {
		t.Fatalf("netc build: exit %d: %s", code, stderr)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("the model binary, with netc's train command line: %v\n%s", err, tail(out))
	}
	c, err := train.OpenCheckpoint(filepath.Join(run, "checkpoints", "last.safetensors"))
	if err != nil {
		t.Fatalf("the model binary wrote no checkpoint: %v\n%s", err, tail(out))
	}
	if c.Meta.State.Epoch != 1 {
		t.Errorf("the model binary's checkpoint is at epoch %d, want 1", c.Meta.State.Epoch)
	}
}
