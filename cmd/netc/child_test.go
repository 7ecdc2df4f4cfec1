package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestModelBinaryDiesWithNetc runs netc train on its model binary (built
// into the cache: slow the first time) and checks that a model binary
// killed by a signal is reported as such (exit 1, not a silent 255), and
// that a SIGKILL of netc takes the model binary down too (it used to
// train on, orphaned, writing the run folder): it checkpoints and exits
// within seconds, releasing the run folder's lock.
func TestModelBinaryDiesWithNetc(t *testing.T) {
	if testing.Short() {
		t.Skip("builds netc and a model binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	tmp := t.TempDir()
	netc := filepath.Join(tmp, "netc")
	if out, err := exec.Command("go", "build", "-o", netc, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "run")
	var seen []int
	start := func() (*exec.Cmd, <-chan struct{}, string, int) {
		logPath := filepath.Join(tmp, "log"+strconv.Itoa(len(seen)))
		log, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		cmd := exec.Command(netc, "train", "../../specs/mnist-resnet.spec", "--data", "mnist", "--out", dir,
			"--limit", "4096", "--batch", "32", "--epochs", "50", "--attack-steps", "1", "--test-limit", "0")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		pid := waitTrainer(t, dir, seen, exited, logPath)
		seen = append(seen, pid)
		return cmd, exited, logPath, pid
	}

	// A model binary killed by a signal.
	cmd, exited, logPath, child := start()
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatal("netc still runs a minute after its model binary was killed")
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "killed by signal 9") {
		t.Errorf("netc's output after its model binary was killed:\n%s", tail(log))
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("netc exited %d, want 1", code)
	}

	// netc killed: its model binary checkpoints and stops.
	cmd, _, logPath, child = start()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, child, 60*time.Second)
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Errorf("the run folder is still locked after the model binary went: %v", err)
	}
	log, _ = os.ReadFile(logPath)
	if !strings.Contains(string(log), "checkpoint saved") {
		t.Errorf("the orphaned model binary did not checkpoint:\n%s", tail(log))
	}
}

// waitTrainer waits until a live process other than those seen holds the
// run folder's lock (the model binary, once it trains) and returns its
// PID. It fails if netc exits first.
func waitTrainer(t *testing.T, dir string, seen []int, exited <-chan struct{}, logPath string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Minute) // the first model binary build
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "download MNIST yourself") {
				t.Skipf("MNIST unavailable: %s", tail(log))
			}
			t.Fatalf("netc exited before its model binary trained:\n%s", tail(log))
		case <-time.After(50 * time.Millisecond):
		}
		b, err := os.ReadFile(filepath.Join(dir, "lock"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && !slices.Contains(seen, pid) && alive(pid) {
			return pid
		}
	}
	t.Fatal("no model binary took the run folder's lock in 10 minutes")
	return 0
}

// waitGone fails unless process pid ends within d.
func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	for start := time.Now(); time.Since(start) < d; time.Sleep(20 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	t.Fatalf("process %d still runs %v later", pid, d)
}

// alive reports whether process pid exists and is not a zombie (whose
// reaping is its new parent's business).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// tail is the end of a log, for messages.
func tail(b []byte) string {
	return string(b[max(0, len(b)-2000):])
}
