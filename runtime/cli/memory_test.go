package cli

import (
	"strings"
	"testing"

	"github.com/netc/netc/runtime/train"
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

// TestMemoryFlag: --memory reaches the memory check of train (as the
// limit it names) and reads back as it was written.
func TestMemoryFlag(t *testing.T) {
	err := Commands{New: interpreted}.Train([]string{"../../specs/mnist-resnet.spec", "--out", t.TempDir(), "--memory", "1KiB"})
	if err == nil || !strings.Contains(err.Error(), "1.0 KiB of memory --memory allows") {
		t.Errorf("train --memory 1KiB: %v", err)
	}
	var n int64
	b := byteSize{&n}
	if err := b.Set("1.5GiB"); err != nil || b.String() != train.FormatBytes(3<<29) {
		t.Errorf("--memory 1.5GiB reads back as %q (%v)", b.String(), err)
	}
}
