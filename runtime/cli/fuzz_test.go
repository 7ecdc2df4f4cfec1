package cli

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/train"
)

// FuzzFlagValues feeds any text to the command line's value parsers: a
// float flag (fraction: --eps 16/255, --lr), the --decay list and the
// --pgd list (Ints). Whatever they accept is in range and reads back the
// same from its own printing; lists have one value per comma-separated
// field; a plain number in range is never refused.
func FuzzFlagValues(f *testing.F) {
	for _, s := range []string{"16/255", "0.3", " 1 / 255 ", "0", "-0", "1/0", "0/0", "NaN", "Inf", "1/Inf", "-1", "1e39",
		"3.4028234663852886e38", "3.5e38", "1e-320", "0x1p-3", "35,70,95", "1,,2", " 10 , 100", "10,100,2000", "-5", "99999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkFraction(t, s)
		checkDecay(t, s)
		checkInts(t, s)
	})
}

func checkFraction(t *testing.T, s string) {
	var v float64
	fr := fraction{&v}
	if err := fr.Set(s); err != nil {
		if !strings.Contains(s, "/") {
			if x, perr := strconv.ParseFloat(strings.TrimSpace(s), 64); perr == nil && x >= 0 && x <= math.MaxFloat32 {
				t.Fatalf("fraction %q refused (%v), but it is %v", s, err, x)
			}
		}
		return
	}
	if !(v >= 0 && v <= math.MaxFloat32) || math.Signbit(v) {
		t.Fatalf("fraction %q accepted as %v: want a finite value >= 0 within float32", s, v)
	}
	if float32(v) > math.MaxFloat32 {
		t.Fatalf("fraction %q accepted as %v, which is Inf in float32", s, v)
	}
	var back float64
	if err := (fraction{&back}).Set(fr.String()); err != nil || back != v {
		t.Fatalf("fraction %q = %v prints as %q, which reads back as %v, %v", s, v, fr.String(), back, err)
	}
}

func checkDecay(t *testing.T, s string) {
	epochs, err := parseDecay(s)
	if err != nil {
		return
	}
	if s == "" {
		if epochs != nil {
			t.Fatalf("--decay \"\" gives %v, want none", epochs)
		}
		return
	}
	if n := strings.Count(s, ",") + 1; len(epochs) != n {
		t.Fatalf("--decay %q gives %d epochs, want %d", s, len(epochs), n)
	}
	c := train.Defaults(8)
	c.DecayEpochs = epochs
	if err := c.Validate(); err != nil {
		t.Fatalf("--decay %q accepted as %v, which does not validate: %v", s, epochs, err)
	}
}

func checkInts(t *testing.T, s string) {
	v, err := Ints(s)
	if err != nil {
		return
	}
	if n := strings.Count(s, ",") + 1; len(v) != n {
		t.Fatalf("Ints(%q) = %v: want %d values", s, v, n)
	}
	var fields []string
	for _, x := range v {
		fields = append(fields, strconv.Itoa(x))
	}
	back, err := Ints(strings.Join(fields, ","))
	if err != nil || len(back) != len(v) {
		t.Fatalf("Ints(%q) = %v, which reads back as %v, %v", s, v, back, err)
	}
	for i := range v {
		if back[i] != v[i] {
			t.Fatalf("Ints(%q) = %v, which reads back as %v", s, v, back)
		}
	}
}
