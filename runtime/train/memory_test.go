package train

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

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

// mnistSpec is the default spec, the embedded MNIST model's.
func mnistSpec(t *testing.T) *spec.Spec {
	s, err := specs.Parse(specs.Default)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCheckMemory: a step that needs more than the limit is an
// InputError naming the spec, the need and the limit; RunSpec and
// LoadModel check before they build the model, which for a network too
// large would exhaust memory.
func TestCheckMemory(t *testing.T) {
	s := mnistSpec(t)
	if err := CheckMemory(s, 128, 1<<40); err != nil {
		t.Errorf("a TiB for the MNIST model: %v", err)
	}
	err := CheckMemory(s, 128, 1<<20)
	if !errors.As(err, new(*InputError)) || !strings.Contains(err.Error(), s.File+": a step of 128 images needs at least") ||
		!strings.Contains(err.Error(), "more than the 1.0 MiB of memory --memory allows") {
		t.Errorf("CheckMemory at 1 MiB: %v", err)
	}
	c := Defaults(128)
	c.Data = "mnist"
	o := Options{Memory: 1 << 20, Quiet: true}
	if _, err := RunSpec(t.Context(), refuse(t), s, c, t.TempDir(), o); !errors.As(err, new(*InputError)) || !strings.Contains(err.Error(), "a step of 128 images") {
		t.Errorf("RunSpec: %v", err)
	}
	c.Adversarial, c.CleanRatio = true, 0.5
	if _, err := RunSpec(t.Context(), refuse(t), s, c, t.TempDir(), o); err == nil || !strings.Contains(err.Error(), "a step of 192 images") {
		t.Errorf("RunSpec with clean images added: %v", err)
	}
	if _, _, _, err := LoadModel(refuse(t), "../../generated/mnistresnet/weights.ckpt", 1<<20); !errors.As(err, new(*InputError)) || !strings.Contains(err.Error(), "[spec]: a step of 1 image needs") {
		t.Errorf("LoadModel: %v", err)
	}
}
