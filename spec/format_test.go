package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// equal reports whether two specs are equal but for file and positions.
func equal(a, b *Spec) bool {
	strip := func(s *Spec) Spec {
		c := *s
		c.File = ""
		c.Overrides = slices.Clone(c.Overrides)
		for i := range c.Overrides {
			c.Overrides[i].Pos = Pos{}
		}
		return c
	}
	return cmp.Equal(strip(a), strip(b))
}

// specFiles returns the specs of ../specs.
func specFiles(t testing.TB) map[string][]byte {
	paths, err := filepath.Glob("../specs/*.spec")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no specs in ../specs: %v", err)
	}
	m := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[p] = b
	}
	return m
}

// checkFormat checks that src, a valid spec, formats idempotently to a
// spec equal to it, as does its String.
func checkFormat(t *testing.T, name string, src []byte) {
	t.Helper()
	s, err := Parse(name, src)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	out, err := Format(name, src)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	out2, err := Format(name, out)
	if err != nil {
		t.Fatalf("Format of formatted:\n%s\n%v", out, err)
	}
	if string(out2) != string(out) {
		t.Errorf("Format is not idempotent; of\n%q\nonce:\n%q\ntwice:\n%q", src, out, out2)
	}
	s2, err := Parse(name, out)
	if err != nil || !equal(s, s2) {
		t.Errorf("Parse(Format) = %+v, %v\nwant %+v", s2, err, s)
	}
	s3, err := Parse(name, []byte(s.String()))
	if err != nil || !equal(s, s3) {
		t.Errorf("Parse(String) = %+v, %v\nwant %+v", s3, err, s)
	}
}

func TestSpecFiles(t *testing.T) {
	for path, src := range specFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			checkFormat(t, path, src)
			s, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if s.File != path {
				t.Errorf("File = %q, want %q", s.File, path)
			}
			// The examples are in canonical form, with a header comment.
			out, _ := Format(path, src)
			if string(out) != string(src) {
				t.Errorf("not formatted; want\n%s", out)
			}
			if !strings.HasPrefix(string(src), "# "+filepath.Base(path)+": ") {
				t.Errorf("no header comment naming the file")
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ src, want string }{
		{base, base + "width 64\nnorm bn\n"},
		// widen is printed when the spec gives it, after width.
		{"widen 10 # wide\nwidth 16\n" + strings.Replace(strings.Replace(base, "basic", "preact", 1), "20", "28", 1),
			strings.Replace(strings.Replace(base, "basic", "preact", 1), "20", "28", 1) + "width 16\nwiden 10 # wide\nnorm bn\n"},
		{base + "widen 1\n", base + "width 64\nwiden 1\nnorm bn\n"},
		{`# Header comment.
# More header.

  # about input
input   3 32 32   std=0.5 mean=0.5,0.5,0.5 # the input
model m # name
# classes doc
classes 010



# floating

stem cifar
block basic # b
depth 20 #d
norm gn stage=2 # override
norm mbn
# trailing


`, `# Header comment.
# More header.

model m # name
# about input
input 3 32 32 # the input
# classes doc
classes 10

# floating

stem cifar
block basic # b
depth 20    #d
width 64
norm mbn
norm gn groups=32 stage=2 # override
# trailing
`},
		{"\r\n\r\nnorm bn stages=1 # x \r\nnorm none stages=2,stem\r\ndepth 20\r\nblock basic\r\nstem cifar\r\nclasses 2\r\n" +
			"input 3 8 8 mean=1,1,1 std=0.25,0.5,1e-3 # in\r\nmodel m\r\n\r\n# end\r\n",
			`model m
input 3 8 8 mean=1 std=0.25,0.5,0.001 # in
classes 2
stem cifar
block basic
depth 20
width 64
norm bn
norm bn stage=1 # x
norm none stages=2,stem

# end
`},
	}
	for _, tt := range tests {
		out, err := Format("t.spec", []byte(tt.src))
		if err != nil {
			t.Errorf("Format(%q): %v", tt.src, err)
			continue
		}
		if string(out) != tt.want {
			t.Errorf("Format(%q) =\n%s\nwant\n%s", tt.src, out, tt.want)
		}
		t.Run("", func(t *testing.T) { checkFormat(t, "t.spec", []byte(tt.src)) })
	}
}

func TestFormatError(t *testing.T) {
	out, err := Format("t.spec", []byte(with(0, "bad")))
	if _, ok := err.(ErrorList); !ok || out != nil {
		t.Errorf("Format of a bad spec = %q, %v; want nil, an ErrorList", out, err)
	}
}

func TestString(t *testing.T) {
	// A spec built by hand, as the compiler's tests do.
	s := &Spec{Model: "t", Input: [3]int{3, 32, 32}, Classes: 10, Stem: StemCIFAR, Block: PreAct,
		Stages: []int{1, 2, 3}, Width: 4, Widen: 2, Norm: Norm{Kind: GN, Groups: 2},
		Overrides: []NormOverride{{Norm: Norm{Kind: MBN}, Stages: []int{0}}}}
	want := `model t
input 3 32 32
classes 10
stem cifar
block preact
stages 1 2 3
width 4
widen 2
norm gn groups=2
norm mbn stage=stem
`
	if got := s.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	for _, tt := range parseErrorTests {
		if _, err := Format("t.spec", []byte(tt.src)); err == nil {
			t.Errorf("Format(%q) succeeded", tt.src)
		}
	}
}

// TestSameNetwork: specs of one network written differently are the same
// network; a different widening is not.
func TestSameNetwork(t *testing.T) {
	parse := func(src string) *Spec {
		t.Helper()
		s, err := Parse("t.spec", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := parse(wide(0, "width 16\nwiden 2"))
	for _, tt := range []struct {
		src  string
		same bool
	}{
		{strings.Replace(wide(0, "width 16\nwiden 2\nnorm bn stages=1,2,3"), "model m", "model other", 1), true},
		{strings.Replace(wide(0, "width 16\nwiden 2"), "depth 28", "stages 4 4 4", 1), true},
		{wide(0, "width 16\nwiden 4"), false},
		{wide(0, "width 32"), false},
		{with(0, "width 16\nwiden 2"), false},
		{wide(0, "width 16\nwiden 2\nnorm mbn stage=3"), false},
	} {
		if got := SameNetwork(a, parse(tt.src)); got != tt.same {
			t.Errorf("SameNetwork of\n%s\nand\n%s= %v", wide(0, "width 16\nwiden 2"), tt.src, got)
		}
	}
	if !SameNetwork(parse(with(0, "widen 1")), parse(base)) {
		t.Errorf("widen 1 makes another network")
	}
}
