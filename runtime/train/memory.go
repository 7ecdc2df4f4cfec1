package train

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/spec"
)

// CheckMemory refuses, with an InputError, to run the network of s on
// steps of batch images when such a step needs more memory than limit
// (0: what the machine has, see MachineMemory). The need is
// compiler.Summary's MinTrainBytes, the least a training step takes (the
// parameters with their gradients and momentum, the activations its
// backward pass keeps), so that it never refuses a step that could run:
// the kernel path's exact need, its programs' arena with the parameters
// (netc check prints it), is 1% to 8% more for the specs in specs/, and
// the reference path's (widths not a multiple of 16) more still. It says
// nothing when the limit is 0 and the machine's memory is unknown.
func CheckMemory(s *spec.Spec, batch int, limit int64) error {
	from := "--memory allows"
	if limit == 0 {
		limit, from = MachineMemory("/")
	}
	if limit <= 0 {
		return nil
	}
	g, err := compiler.Lower(s)
	if err != nil {
		return &InputError{err}
	}
	sum := g.Summarize(batch)
	if sum.MinTrainBytes <= limit {
		return nil
	}
	images := "images"
	if batch == 1 {
		images = "image"
	}
	return &InputError{fmt.Errorf("%s: a step of %d %s needs at least %s (%d parameters with their gradients and momentum, %s of activations kept for the backward pass), more than the %s of memory %s; use a smaller --batch or network, or set --memory",
		s.File, batch, images, FormatBytes(sum.MinTrainBytes), sum.Params, FormatBytes(sum.BackwardBytes), FormatBytes(limit), from)}
}

// StepImages is the images of a training step's forward and backward
// pass: the batch and, in adversarial training, the clean images added
// to it.
func (c *Config) StepImages() int {
	clean, adv := c.perStep()
	return clean + adv
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
