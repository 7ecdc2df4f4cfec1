package cli

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/netc/netc/runtime/train"
)

// MemoryFlag registers --memory on fs: the memory, in bytes, that one
// training or evaluation step may need, 0 (the default) for the
// machine's (see train.CheckMemory).
func MemoryFlag(fs *flag.FlagSet) *int64 {
	limit := new(int64)
	fs.Var(byteSize{limit}, "memory", "the memory a step may need, e.g. `8GiB` (default: this machine's, or its cgroup limit)")
	return limit
}

// byteSize is a flag value such as 8GiB, 512MiB, 1.5G or 1000000.
type byteSize struct{ v *int64 }

func (b byteSize) String() string {
	if b.v == nil || *b.v == 0 {
		return ""
	}
	return train.FormatBytes(*b.v)
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
