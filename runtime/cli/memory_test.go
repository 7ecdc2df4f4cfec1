package cli

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"8GiB": 8 << 30, "8gib": 8 << 30, "8G": 8 << 30, "8 GB": 8e9, "1.5GiB": 3 << 29,
		"512MiB": 512 << 20, "100": 100, "100B": 100, "2KB": 2000, "1K": 1024, "3TiB": 3 << 40, "1P": 1 << 50,
	} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "8Q", "-1GiB", "0", "0.5", "NaN", "Inf", "1e9", "8EiB", "9999999999PiB", "1.2.3G"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		512: "0.5 KiB", 3 << 20: "3.0 MiB", 3 << 29: "1.50 GiB", 5 << 40: "5.00 TiB", 1 << 50: "1.00 PiB",
		1 << 62: "4.00 EiB", math.MaxInt64: "more than 8 EiB",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeRoot writes files (path relative to the root: content) under a new
// folder and returns it.
func fakeRoot(t *testing.T, files map[string]string) string {
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestMachineMemory(t *testing.T) {
	meminfo := "MemTotal:       16384000 kB\nMemFree:         1000 kB\n"
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  int64
		from  string
	}{
		{"meminfo only", map[string]string{"proc/meminfo": meminfo}, 16384000 << 10, "MemTotal"},
		{"cgroup v2 limit", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "0::/app\n",
			"sys/fs/cgroup/app/memory.max": "4294967296\n"}, 4 << 30, "/sys/fs/cgroup/app/memory.max"},
		{"cgroup v2 limit above", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "0::/app/job\n",
			"sys/fs/cgroup/app/job/memory.max": "max\n", "sys/fs/cgroup/app/memory.max": "2147483648\n"}, 2 << 30, "/sys/fs/cgroup/app/memory.max"},
		{"cgroup v2 no limit", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "0::/\n",
			"sys/fs/cgroup/memory.max": "max\n"}, 16384000 << 10, "MemTotal"},
		{"cgroup limit above the machine", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "0::/\n",
			"sys/fs/cgroup/memory.max": "99999999999999\n"}, 16384000 << 10, "MemTotal"},
		{"cgroup v1 limit", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "4:memory:/job\n2:cpu:/job\n",
			"sys/fs/cgroup/memory/job/memory.limit_in_bytes": "1073741824\n"}, 1 << 30, "memory.limit_in_bytes"},
		{"cgroup v1 unlimited", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "4:cpuacct,memory:/job\n",
			"sys/fs/cgroup/memory/job/memory.limit_in_bytes": "9223372036854771712\n"}, 16384000 << 10, "MemTotal"},
		{"nothing", map[string]string{}, 0, ""},
		{"garbage", map[string]string{"proc/meminfo": "MemTotal: lots kB\n", "proc/self/cgroup": "::\n0::relative\n"}, 0, ""},
	} {
		got, from := MachineMemory(fakeRoot(t, tt.files))
		if got != tt.want || !strings.Contains(from, tt.from) {
			t.Errorf("%s: %d (%s), want %d (%s)", tt.name, got, from, tt.want, tt.from)
		}
	}
	if got, from := MachineMemory("/"); got <= 0 {
		t.Logf("this machine's memory is unknown (%q)", from)
	}
}

// refuse is a factory that fails the test: the memory check must come
// before the model is built.
func refuse(t *testing.T) Factory {
	return func(*spec.Spec, uint64) (nn.Model, error) {
		t.Fatal("the model was built")
		return nil, nil
	}
}

func withMemoryLimit(t *testing.T, n int64) {
	old := MemoryLimit
	MemoryLimit = n
	t.Cleanup(func() { MemoryLimit = old })
}

func TestCheckMemory(t *testing.T) {
	s := defaultSpec(t)
	withMemoryLimit(t, 1<<40)
	if err := CheckMemory(s, 128); err != nil {
		t.Errorf("a TiB for the MNIST model: %v", err)
	}
	withMemoryLimit(t, 1<<20)
	err := CheckMemory(s, 128)
	if !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), s.File+": a step of 128 images needs at least") ||
		!strings.Contains(err.Error(), "more than the 1.0 MiB of memory --memory allows") {
		t.Errorf("CheckMemory at 1 MiB: %v", err)
	}

	// The training and model-loading paths check before they build the
	// model, which for a too large network would exhaust memory.
	c := train.Defaults(128)
	c.Data = "mnist"
	if _, err := TrainSpec(refuse(t), s, c, t.TempDir(), 0); !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), "a step of 128 images") {
		t.Errorf("TrainSpec: %v", err)
	}
	c.Adversarial, c.CleanRatio = true, 0.5
	if _, err := TrainSpec(refuse(t), s, c, t.TempDir(), 0); err == nil || !strings.Contains(err.Error(), "a step of 192 images") {
		t.Errorf("TrainSpec with clean images added: %v", err)
	}
	if _, _, _, err := LoadModel(refuse(t), "../../generated/mnistresnet/weights.ckpt"); !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), "[spec]: a step of 1 image needs") {
		t.Errorf("LoadModel: %v", err)
	}
	if err := Train(refuse(t), s, []string{"--out", t.TempDir(), "--memory", "1KiB"}); err == nil || !strings.Contains(err.Error(), "1.0 KiB of memory --memory allows") {
		t.Errorf("train --memory 1KiB: %v", err)
	}
}
