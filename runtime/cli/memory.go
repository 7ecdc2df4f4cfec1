package cli

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
)

// MemoryLimit is the memory, in bytes, that one training or evaluation
// step may need; 0 means the machine's (see [MachineMemory]). The
// --memory flag sets it.
var MemoryLimit int64

// MemoryFlag registers --memory, which sets MemoryLimit, on fs.
func MemoryFlag(fs *flag.FlagSet) {
	fs.Var(byteSize{&MemoryLimit}, "memory", "the memory a step may need, e.g. `8GiB` (default: this machine's, or its cgroup limit)")
}

// CheckMemory refuses, as bad input, to run the network of s on steps of
// batch images when such a step needs more memory than MemoryLimit (or the
// machine has). The need is compiler.Summary's MinTrainBytes, the least a
// training step takes (the parameters with their gradients and momentum,
// the activations its backward pass keeps), so that it never refuses a
// step a compiled model could run; the interpreter needs more. It says
// nothing when the machine's memory is unknown.
func CheckMemory(s *spec.Spec, batch int) error {
	limit, from := MemoryLimit, "--memory allows"
	if limit == 0 {
		limit, from = MachineMemory("/")
	}
	if limit <= 0 {
		return nil
	}
	g, err := compiler.Lower(s)
	if err != nil {
		return Bad(err)
	}
	sum := g.Summarize(batch)
	if sum.MinTrainBytes <= limit {
		return nil
	}
	images := "images"
	if batch == 1 {
		images = "image"
	}
	return Badf("%s: a step of %d %s needs at least %s (%d parameters with their gradients and momentum, %s of activations kept for the backward pass), more than the %s of memory %s; use a smaller --batch or network, or set --memory",
		s.File, batch, images, FormatBytes(sum.MinTrainBytes), sum.Params, FormatBytes(sum.BackwardBytes), FormatBytes(limit), from)
}

// stepImages is the images of a training step's forward and backward
// pass: the batch and, in adversarial training, the clean images added to
// it.
func stepImages(c train.Config) int {
	if !c.Adversarial {
		return c.Batch
	}
	return c.Batch + int(math.Round(c.CleanRatio*float64(c.Batch)))
}

// MachineMemory returns the memory this process may use, read from the
// files under root ("/" but in tests): /proc/meminfo's MemTotal, or the
// memory limit of the process's cgroup (v1 or v2, or any cgroup above
// it) if that is lower; and where the figure comes from. It returns 0
// when neither can be read.
func MachineMemory(root string) (int64, string) {
	best, from := int64(0), ""
	consider := func(n int64, where string) {
		if n > 0 && (best == 0 || n < best) {
			best, from = n, where
		}
	}
	if b, err := os.ReadFile(path.Join(root, "proc/meminfo")); err == nil {
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb < math.MaxInt64/1024 {
					consider(kb*1024, "this machine has (MemTotal in /proc/meminfo)")
				}
			}
		}
	}
	cgroups, err := os.ReadFile(path.Join(root, "proc/self/cgroup"))
	if err != nil {
		return best, from
	}
	sc := bufio.NewScanner(bytes.NewReader(cgroups))
	for sc.Scan() {
		// hierarchy-ID:controllers:path; v2 has ID 0 and no controllers.
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 || !path.IsAbs(f[2]) {
			continue
		}
		var dir, file string
		switch {
		case f[0] == "0" && f[1] == "":
			dir, file = "sys/fs/cgroup", "memory.max"
		case strings.Contains(","+f[1]+",", ",memory,"):
			dir, file = "sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// A cgroup's limit bounds every cgroup below it; inside a
		// container the process's own cgroup is often the mount's root.
		for p := path.Clean(f[2]); ; p = path.Dir(p) {
			name := path.Join(dir, p, file)
			if b, err := os.ReadFile(path.Join(root, name)); err == nil {
				// "max" (v2) means no limit, as do v1's huge values.
				if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n < 1<<62 {
					consider(n, "the cgroup limit ("+"/"+name+") allows")
				}
			}
			if p == "/" {
				break
			}
		}
	}
	return best, from
}

// byteSize is a flag value such as 8GiB, 512MiB, 1.5G or 1000000.
type byteSize struct{ v *int64 }

func (b byteSize) String() string {
	if b.v == nil || *b.v == 0 {
		return ""
	}
	return FormatBytes(*b.v)
}

func (b byteSize) Set(s string) error {
	n, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b.v = n
	return nil
}

// byteUnits are the units ParseBytes accepts, in bytes; K, M, G, T and P
// alone are binary, as in most tools that take memory sizes.
var byteUnits = map[string]float64{
	"": 1, "B": 1,
	"K": 1 << 10, "KB": 1e3, "KIB": 1 << 10,
	"M": 1 << 20, "MB": 1e6, "MIB": 1 << 20,
	"G": 1 << 30, "GB": 1e9, "GIB": 1 << 30,
	"T": 1 << 40, "TB": 1e12, "TIB": 1 << 40,
	"P": 1 << 50, "PB": 1e15, "PIB": 1 << 50,
}

// ParseBytes parses a memory size: a positive number and a unit (B, KiB,
// MiB, GiB, TiB, PiB, or KB, MB, GB, TB, PB in powers of 1000; K, M, G, T
// and P mean KiB to PiB; case does not matter), such as 8GiB or 1.5G.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("memory size %q: want a number and a unit, e.g. 8GiB", s)
	}
	scale, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("memory size %q: unknown unit %q (want B, KiB, MiB, GiB, TiB, PiB, or KB, MB, GB, TB, PB)", s, t[i:])
	}
	n := v * scale
	if n < 1 || n >= math.MaxInt64 {
		return 0, fmt.Errorf("memory size %q: want at least 1 byte and less than 8 EiB", s)
	}
	return int64(n), nil
}

// FormatBytes writes a memory size in binary units: 512.0 KiB, 1.27 GiB.
// math.MaxInt64, what saturated counts hold, is "more than 8 EiB".
func FormatBytes(n int64) string {
	switch {
	case n == math.MaxInt64:
		return "more than 8 EiB"
	case n >= 1<<60:
		return fmt.Sprintf("%.2f EiB", float64(n)/(1<<60))
	case n >= 1<<50:
		return fmt.Sprintf("%.2f PiB", float64(n)/(1<<50))
	case n >= 1<<40:
		return fmt.Sprintf("%.2f TiB", float64(n)/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}
