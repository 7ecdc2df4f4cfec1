package spec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// base is a valid spec of six lines.
const base = `model m
input 3 32 32
classes 10
stem cifar
block basic
depth 20
`

// with returns base with line n (from 1) replaced by repl, or with repl
// appended when n is 0. An empty repl deletes the line.
func with(n int, repl string) string {
	lines := strings.Split(strings.TrimSuffix(base, "\n"), "\n")
	if n == 0 {
		lines = append(lines, repl)
	} else if repl == "" {
		lines = slices.Delete(lines, n-1, n)
	} else {
		lines[n-1] = repl
	}
	return strings.Join(lines, "\n") + "\n"
}

// wide is with for a Wide ResNet: base with preact blocks of depth 28.
func wide(n int, repl string) string {
	return strings.Replace(strings.Replace(with(n, repl), "block basic", "block preact", 1), "depth 20", "depth 28", 1)
}

// parseErrorTests are malformed specs, with their first error.
var parseErrorTests = []struct {
	src string
	pos string // line:col of the first error
	msg string // a substring of its message
}{
	{with(0, "foo 1"), "7:1", `unknown directive "foo"`},
	{with(2, "input 3 2 32"), "2:9", "input size 2 is too small for the network's strides"},
	{with(0, "width 64 x=1"), "7:10", `unknown option "x" for width`},
	{with(0, "width 64 =1"), "7:10", `unknown option "" for width`},
	{with(1, "model M"), "1:7", `"M" is not a lowercase Go package name`},
	{with(1, "model 9lives"), "1:7", "not a lowercase Go package name"},
	{with(1, "model my-net"), "1:7", "not a lowercase Go package name"},
	{with(1, "model func"), "1:7", "is a Go keyword"},
	{with(1, "model main"), "1:7", `model name "main" makes the Go package name "main", which the model binary cannot import`},
	{with(1, "model init"), "1:7", `"init", which the model binary cannot import`},
	{with(1, "model ma_in"), "1:7", `model name "ma_in" makes the Go package name "main"`},
	{with(1, "model fun_c"), "1:7", `model name "fun_c" makes the Go package name "func" (without underscores), a Go keyword`},
	{with(1, "model "+strings.Repeat("a", 65)), "1:7", "is too long: at most 64 bytes"},
	{with(1, "model "+strings.Repeat("a", 1<<20)), "1:7", `model name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"... (1048576 bytes) is too long`},
	{with(1, "model résnet"), "1:7", "not a lowercase Go package name"},
	{with(1, "model 9x"), "1:7", "not a lowercase Go package name"},
	{with(1, "model a b"), "1:9", "too many arguments (usage: model NAME)"},
	{with(1, "model mean=1"), "1:7", `unknown option "mean" for model`},
	{with(2, "input 3 32"), "2:1", "too few arguments (usage: input C H W"},
	{with(2, "input 0 32 32"), "2:7", "input channels must be between 1 and 1024, got 0"},
	{with(2, "input 3 -32 32"), "2:9", "input height must be between 1 and 8192, got -32"},
	{with(2, "input 3 x 32"), "2:9", `input height "x" is not an integer`},
	{with(2, "input 3 32 2000000"), "2:12", "input width must be between 1 and 8192, got 2000000"},
	{with(2, "input 3 32 8193"), "2:12", "input width must be between 1 and 8192, got 8193"},
	{with(2, "input 1025 32 32"), "2:7", "input channels must be between 1 and 1024, got 1025"},
	{with(2, "input 3 32 99999999999999999999"), "2:12", "input width must be between"},
	{with(2, "input\t3\t32\t32\tstd=0"), "2:19", "std value 0 is not positive"},
	{with(2, "input 3 32 32 mean=0.1,0.2"), "2:20", "mean has 2 values; want 1 or 3"},
	{with(2, "input 3 32 32 std=1,2,-3"), "2:23", "std value -3 is not positive"},
	{with(2, "input 3 32 32 mean=nan"), "2:20", `mean value "nan" is not finite`},
	{with(2, "input 3 32 32 mean=1e999"), "2:20", `mean value "1e999" is not finite`},
	{with(2, "input 3 32 32 mean=abc"), "2:20", `mean value "abc" is not a number`},
	{with(2, "input 3 32 32 mean=1,,2"), "2:22", `mean value "" is not a number`},
	{with(2, "input 3 32 32 mean="), "2:20", "option mean= needs a value"},
	{with(2, "input 3 32 32 mean=1 mean=2"), "2:22", "duplicate option mean="},
	{with(3, "classes 1"), "3:9", "classes must be between 2 and 100000, got 1"},
	{with(3, "classes 100001"), "3:9", "classes must be between 2 and 100000, got 100001"},
	{with(3, "classes ten"), "3:9", `classes "ten" is not an integer`},
	{with(4, "stem resnet"), "4:6", `unknown stem "resnet"; want imagenet or cifar`},
	{with(5, "block wide"), "5:7", `unknown block "wide"; want basic, bottleneck or preact`},
	{with(5, "block preact"), "6:7", "depth 20 is not a standard depth for preact blocks after the cifar stem (standard: 6n+4 for n >= 1: 10, 16, 22, 28, ...)"},
	{with(6, "depth 6154"), "6:7", "depth 6154 is not a standard depth"},
	{wide(6, "depth 6154"), "6:7", "depth 6154 makes 1025 blocks per stage; at most 1024"},
	{wide(0, "norm gn stages=1,stem"), "7:18", "the stem has no norm layer with preact blocks"},
	{wide(0, "width 16\nwiden 10\nnorm gn groups=32 stage=1"), "9:16", "gn groups=32 does not divide the 16 channels of stage 1"},
	{wide(0, "width 16\nwiden 3\nnorm gn groups=32 stage=2"), "9:16", "gn groups=32 does not divide the 48 channels of stage 2"},
	{wide(0, "width 16\nwiden 3\nnorm gn groups=64 stage=3"), "9:16", "gn groups=64 does not divide the 96 channels of stage 3"},
	{with(0, "widen 0"), "7:7", "widen must be between 1 and 4096, got 0"},
	{with(0, "widen two"), "7:7", `widen "two" is not an integer`},
	{with(0, "widen 2 2"), "7:9", "too many arguments (usage: widen K)"},
	{with(0, "widen 2\nwiden 2"), "8:1", "duplicate widen directive (first on line 7)"},
	{with(0, "width 1024\nwiden 5"), "8:7", "width 1024 times widen 5 is 5120 channels in the first stage; at most 4096"},
	{with(0, "model n"), "7:1", "duplicate model directive (first on line 1)"},
	{with(0, "stages 3 3 3"), "7:1", "stages and depth (line 6) both given"},
	{with(3, ""), "6:1", "missing classes directive"},
	{"model m", "1:8", "missing input directive"},
	{"", "1:1", "missing model directive"},
	{"# only a comment\n", "2:1", "missing model directive"},
	{with(6, ""), "6:1", "missing depth or stages directive"},
	{with(6, "depth 21"), "6:7", "depth 21 is not a standard depth for basic blocks after the cifar stem (standard: 20, 32, 44, 56, 110); give stages instead"},
	{with(4, "stem imagenet"), "6:7", "(standard: 18, 34); give stages"},
	{with(5, "block bottleneck"), "6:7", "(standard: none)"},
	{with(6, "depth 0"), "6:7", "depth must be between 1 and"},
	{with(6, "stages 3 3"), "6:1", "too few arguments (usage: stages N1 N2 N3 [N4])"},
	{with(6, "stages 3 3 3 3 3"), "6:16", "too many arguments"},
	{with(6, "stages 3 3 3 3"), "6:1", "the cifar stem needs 3 stages, got 4"},
	{with(6, "stages 3 0 3"), "6:10", "blocks per stage must be between 1 and 1024, got 0"},
	{with(6, "stages 3 1025 3"), "6:10", "blocks per stage must be between 1 and 1024, got 1025"},
	{with(0, "width 0"), "7:7", "width must be between 1 and"},
	{with(0, "width 1048576"), "7:7", "width must be between 1 and 4096, got 1048576"},
	{with(0, "width "+strings.Repeat("9", 1<<20)), "7:7", `width must be between 1 and 4096, got "9999999999999999999999999999999999999999"... (1048576 bytes)`},
	{with(0, "norm gn groups=32769"), "7:16", "groups must be between 1 and 32768, got 32769"},
	{with(0, "norm ln"), "7:6", `unknown norm "ln"; want bn, mbn, gn or none`},
	{with(0, "norm gn share=stats"), "7:9", "share= is only for mbn"},
	{with(0, "norm mbn groups=2"), "7:10", "groups= is only for gn"},
	{with(0, "norm"), "7:1", "too few arguments (usage: norm"},
	{with(0, "norm bn groups=4"), "7:9", "groups= is only for gn"},
	{with(0, "norm bn share=stats"), "7:9", "share= is only for mbn"},
	{with(0, "norm mbn share=both"), "7:16", `unknown share="both"`},
	{with(0, "norm gn groups=0"), "7:16", "groups must be between 1 and"},
	{with(0, "norm gn stage=4"), "7:15", "stage 4 out of range; the cifar stem has stages 1..3"},
	{with(0, "norm gn stages=stem,1,9"), "7:23", "stage 9 out of range"},
	{with(0, "norm gn stage=0"), "7:15", `bad stage "0"; want stem or a stage number from 1`},
	{with(0, "norm gn stages=1,"), "7:18", `bad stage ""`},
	{with(0, "norm bn stages=1,2,1"), "7:20", "stage 1 listed twice"},
	{with(0, "norm gn stage=1\nnorm bn stage=1"), "8:15", "stage 1 already has norm gn groups=32 (line 7); the overrides of a stage must agree"},
	{with(0, "norm mbn stages=stem,3\nnorm mbn share=stats stages=2,stem"), "8:31", "stage stem already has norm mbn (line 7)"},
	{with(0, "norm gn groups=16 stage=2\nnorm gn stage=2"), "8:15", "stage 2 already has norm gn groups=16 (line 7)"},
	{with(0, "norm gn stage="+strings.Repeat("0", 1<<20)+"4"), "7:15", `stage "0000000000000000000000000000000000000000"... (1048577 bytes) out of range`},
	{with(0, strings.Repeat("x", 1<<20)), "7:1", `unknown directive "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"... (1048576 bytes)`},
	{with(0, "norm bn stage=1 stages=2,3"), "7:17", "both stage= and stages= given"},
	{with(0, "norm bn stage=1 stage=2"), "7:17", "duplicate option stage="},
	{with(0, "norm bn\nnorm mbn"), "8:1", "duplicate default norm (first on line 7)"},
	{with(0, "width 16\nnorm gn"), "8:6", "gn groups=32 does not divide the 16 channels of the stem"},
	{with(0, "width 24\nnorm gn groups=16 stage=1"), "8:16", "gn groups=16 does not divide the 24 channels of stage 1"},
	{with(0, "width 24\nnorm gn groups=64 stage=3"), "8:16", "gn groups=64 does not divide the 96 channels of stage 3"},
	{with(0, "width 8\nnorm gn groups=16\nnorm bn stage=stem"), "8:16", "gn groups=16 does not divide the 8 channels of stage 1"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		name := tt.src
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			s, err := Parse("t.spec", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", s)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty ErrorList", err, err)
			}
			e := list[0]
			if e.Pos.File != "t.spec" {
				t.Errorf("file = %q, want t.spec", e.Pos.File)
			}
			if pos := fmt.Sprintf("%d:%d", e.Pos.Line, e.Pos.Col); pos != tt.pos || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("first error = %s: %s\nwant %s: ...%s...", pos, e.Msg, tt.pos, tt.msg)
			}
		})
	}
}

func TestErrorList(t *testing.T) {
	src := "model M\ninput 3 32\nclasses 10\nstem cifar\nblock basic\nfoo\nstages 1 1 1\nnorm gn stage=9\n"
	_, err := Parse("x.spec", []byte(src))
	want := "x.spec:1:7: model name \"M\" is not a lowercase Go package name ([a-z][a-z0-9_]*)\n" +
		"x.spec:2:1: too few arguments (usage: input C H W [mean=M] [std=S])\n" +
		"x.spec:6:1: unknown directive \"foo\""
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}

	// Semantic errors come sorted, after the syntax is right.
	src = "model m\ninput 3 32 32\nclasses 10\nnorm gn stage=5\nstem cifar\nblock basic\ndepth 19\nnorm gn stage=4\n"
	_, err = Parse("x.spec", []byte(src))
	want = "x.spec:4:15: stage 5 out of range; the cifar stem has stages 1..3\n" +
		"x.spec:7:7: depth 19 is not a standard depth for basic blocks after the cifar stem (standard: 20, 32, 44, 56, 110); give stages instead\n" +
		"x.spec:8:15: stage 4 out of range; the cifar stem has stages 1..3"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}

	// At most maxErrors.
	_, err = Parse("x.spec", []byte(strings.Repeat("bad\n", 50)))
	if list, ok := err.(ErrorList); !ok || len(list) != maxErrors {
		t.Errorf("%d errors for 50 bad lines, want %d", len(list), maxErrors)
	}
}

func TestDepthTable(t *testing.T) {
	tests := []struct {
		block  string
		stem   string
		depth  int
		stages []int
	}{
		{"bottleneck", "imagenet", 50, []int{3, 4, 6, 3}},
		{"bottleneck", "imagenet", 101, []int{3, 4, 23, 3}},
		{"bottleneck", "imagenet", 152, []int{3, 8, 36, 3}},
		{"bottleneck", "imagenet", 200, []int{3, 24, 36, 3}},
		{"bottleneck", "imagenet", 338, []int{3, 42, 64, 3}},
		{"bottleneck", "imagenet", 518, []int{3, 66, 100, 3}},
		{"bottleneck", "imagenet", 638, []int{3, 82, 124, 3}},
		{"basic", "imagenet", 18, []int{2, 2, 2, 2}},
		{"basic", "imagenet", 34, []int{3, 4, 6, 3}},
		{"basic", "cifar", 20, []int{3, 3, 3}},
		{"basic", "cifar", 32, []int{5, 5, 5}},
		{"basic", "cifar", 44, []int{7, 7, 7}},
		{"basic", "cifar", 56, []int{9, 9, 9}},
		{"basic", "cifar", 110, []int{18, 18, 18}},
		{"preact", "imagenet", 18, []int{2, 2, 2, 2}},
		{"preact", "imagenet", 34, []int{3, 4, 6, 3}},
	}
	n := 0
	for _, tt := range tests {
		src := fmt.Sprintf("model m\ninput 3 224 224\nclasses 10\nstem %s\nblock %s\ndepth %d\n", tt.stem, tt.block, tt.depth)
		s, err := Parse("t.spec", []byte(src))
		if err != nil {
			t.Errorf("depth %d: %v", tt.depth, err)
			continue
		}
		if s.Depth != tt.depth || !slices.Equal(s.Stages, tt.stages) {
			t.Errorf("depth %d: Depth %d, Stages %v; want %d, %v", tt.depth, s.Depth, s.Stages, tt.depth, tt.stages)
		}
		// The depth counts the stem conv, every block's convs and the
		// classifier.
		blocks := 0
		for _, b := range s.Stages {
			blocks += b
		}
		if got := s.Block.Info().Convs*blocks + 2; got != tt.depth {
			t.Errorf("depth %d: stages %v make a depth of %d", tt.depth, s.Stages, got)
		}
		n++
	}
	total := 0
	for b := range blocks {
		for _, d := range blocks[b].depths {
			total += len(d.table)
		}
	}
	if n != total {
		t.Errorf("tested %d standard depths of %d", n, total)
	}
}

// TestWideResNetDepths: a Wide ResNet after the cifar stem has depth
// 6n+4 with n blocks in each of its three stages (WRN-28-10: 4 4 4).
func TestWideResNetDepths(t *testing.T) {
	for _, tt := range []struct {
		depth int
		n     int // blocks per stage; 0: not a standard depth
	}{{10, 1}, {16, 2}, {22, 3}, {28, 4}, {34, 5}, {40, 6}, {6148, 1024}, {4, 0}, {27, 0}, {29, 0}} {
		src := fmt.Sprintf("model m\ninput 3 32 32\nclasses 10\nstem cifar\nblock preact\ndepth %d\nwidth 16\nwiden 10\n", tt.depth)
		s, err := Parse("t.spec", []byte(src))
		if tt.n == 0 {
			if err == nil || !strings.Contains(err.Error(), "6n+4 for n >= 1: 10, 16, 22, 28, ...") {
				t.Errorf("depth %d: %v; want an error listing the standard depths", tt.depth, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("depth %d: %v", tt.depth, err)
			continue
		}
		if want := []int{tt.n, tt.n, tt.n}; !slices.Equal(s.Stages, want) {
			t.Errorf("depth %d: stages %v, want %v", tt.depth, s.Stages, want)
		}
		for st, want := range []int{160, 320, 640} {
			if inner, out := s.StageWidths(st + 1); inner != want || out != want {
				t.Errorf("depth %d: stage %d widths %d, %d; want %d", tt.depth, st+1, inner, out, want)
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse("t.spec", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		File: "t.spec", Model: "m", Input: [3]int{3, 32, 32},
		Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{0.5, 0.5, 0.5},
		Classes: 10, Stem: StemCIFAR, Block: Basic, Depth: 20, Stages: []int{3, 3, 3},
		Width: 64, Norm: Norm{Kind: BN},
	}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("Parse(base) differs (-want +got):\n%s", d)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		src  string
		want func(*Spec) // edits the spec of base to the one wanted
	}{
		{with(2, "input 1 28 28 mean=0.1307 std=0.3081"), func(s *Spec) {
			s.Input, s.Mean, s.Std = [3]int{1, 28, 28}, []float64{0.1307}, []float64{0.3081}
		}},
		{with(2, "input 3 32 32 std=0.2 mean=0.1,0.2,0.3"), func(s *Spec) {
			s.Mean, s.Std = []float64{0.1, 0.2, 0.3}, []float64{0.2, 0.2, 0.2}
		}},
		{with(6, "stages 1 2 3"), func(s *Spec) { s.Depth, s.Stages = 0, []int{1, 2, 3} }},
		{with(0, "width +16 # comment"), func(s *Spec) { s.Width = 16 }},
		{with(0, "widen 1"), func(s *Spec) { s.Widen = 1 }},
		{with(0, "width 16\nwiden 10"), func(s *Spec) { s.Width, s.Widen = 16, 10 }},
		{wide(0, ""), func(s *Spec) { s.Block, s.Depth, s.Stages = PreAct, 28, []int{4, 4, 4} }},
		{with(0, "norm gn"), func(s *Spec) { s.Norm = Norm{Kind: GN, Groups: 32} }},
		{with(0, "norm mbn share=stats"), func(s *Spec) { s.Norm = Norm{Kind: MBN, Share: ShareStats} }},
		{with(0, "norm mbn share=affine"), func(s *Spec) { s.Norm = Norm{Kind: MBN, Share: ShareAffine} }},
		{with(0, "norm gn groups=16"), func(s *Spec) { s.Norm = Norm{Kind: GN, Groups: 16} }},
		{with(0, "norm none"), func(s *Spec) { s.Norm = Norm{} }},
		{with(0, "norm mbn stages=3,stem\r"), func(s *Spec) {
			s.Overrides = []NormOverride{{Pos{"t.spec", 7, 1}, Norm{Kind: MBN}, []int{3, 0}}}
		}},
		// Overrides of one stage that agree.
		{with(0, "norm gn stage=1\nnorm gn groups=32 stages=2,1"), func(s *Spec) {
			gn := Norm{Kind: GN, Groups: 32}
			s.Overrides = []NormOverride{{Pos{"t.spec", 7, 1}, gn, []int{1}}, {Pos{"t.spec", 8, 1}, gn, []int{2, 1}}}
		}},
		{"\t model\tm#c\n  input 3 32 32\nclasses 10\nstem cifar\nblock basic\ndepth 20", func(*Spec) {}},
	}
	for _, tt := range tests {
		s, err := Parse("t.spec", []byte(tt.src))
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		want, _ := Parse("t.spec", []byte(base))
		tt.want(want)
		if d := cmp.Diff(want, s); d != "" {
			t.Errorf("Parse(%q) differs (-want +got):\n%s", tt.src, d)
		}
	}
}

func TestNormAt(t *testing.T) {
	src := `model m
input 3 224 224
classes 1000
stem imagenet
block bottleneck
depth 50
norm mbn
norm gn groups=16 stage=1
norm bn stages=stem,2
norm none stage=3
norm gn groups=16 stage=1
`
	s, err := Parse("t.spec", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Norm{{Kind: BN}, {Kind: GN, Groups: 16}, {Kind: BN}, {Kind: NoNorm}, {Kind: MBN}}
	for st, w := range want {
		if got := s.NormAt(st); got != w {
			t.Errorf("NormAt(%d) = %v, want %v", st, got, w)
		}
	}
	wantOv := []NormOverride{
		{Pos{"t.spec", 8, 1}, Norm{Kind: GN, Groups: 16}, []int{1}},
		{Pos{"t.spec", 9, 1}, Norm{Kind: BN}, []int{0, 2}},
		{Pos{"t.spec", 10, 1}, Norm{Kind: NoNorm}, []int{3}},
		{Pos{"t.spec", 11, 1}, Norm{Kind: GN, Groups: 16}, []int{1}},
	}
	if d := cmp.Diff(wantOv, s.Overrides); d != "" {
		t.Errorf("Overrides differ (-want +got):\n%s", d)
	}
}

// TestLimits parses specs at every limit: the largest network a spec may
// describe.
func TestLimits(t *testing.T) {
	for _, src := range []string{
		fmt.Sprintf("model %s\ninput %d %d %d\nclasses %d\nstem imagenet\nblock bottleneck\nstages %d %d %d %d\nwidth %d\nnorm gn groups=%d stage=4\n",
			strings.Repeat("m", MaxNameLen), MaxInputChannels, MaxInputSize, MaxInputSize, MaxClasses,
			MaxBlocks, MaxBlocks, MaxBlocks, MaxBlocks, MaxWidth, MaxGroups),
		fmt.Sprintf("model m\ninput 1 %d %d\nclasses 2\nstem cifar\nblock basic\nstages %d 1 %d\nwidth %d\n",
			MaxInputSize, MaxInputSize, MaxBlocks, MaxBlocks, MaxWidth),
	} {
		if _, err := Parse("t.spec", []byte(src)); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

func TestMinInput(t *testing.T) {
	for _, tt := range []struct {
		stem   Stem
		stages int
		want   int
	}{
		{StemCIFAR, 3, 3},     // 3 -> 2 -> 1
		{StemImageNet, 4, 17}, // 17 -> 9 -> 5 -> 3 -> 2 -> 1
		{StemCIFAR, 1, 1},
	} {
		if got := minInput(tt.stem, tt.stages); got != tt.want {
			t.Errorf("minInput(%v, %d) = %d, want %d", tt.stem, tt.stages, got, tt.want)
		}
	}
}

// TestUnknownKindsFailLoudly: a kind without a descriptor panics where
// it is asked about, naming it, and prints as what it is; no code falls
// back to BN or to a basic block.
func TestUnknownKindsFailLoudly(t *testing.T) {
	for _, tt := range []struct {
		what, msg string
		f         func()
	}{
		{"norm", "spec: unknown norm kind 7", func() { NormKind(7).Info() }},
		{"norm", "spec: unknown norm kind -1", func() { Norm{Kind: -1}.AffineSets() }},
		{"block", "spec: unknown block kind 9", func() { Block(9).Info() }},
		{"widths", "spec: unknown block kind 9", func() { (&Spec{Block: 9, Width: 16}).StageWidths(1) }},
	} {
		func() {
			defer func() {
				if r := recover(); r != tt.msg {
					t.Errorf("%s: panic %v, want %q", tt.what, r, tt.msg)
				}
			}()
			tt.f()
		}()
	}
	if got := fmt.Sprint(NormKind(7), Block(9)); got != "norm(7) block(9)" {
		t.Errorf("unknown kinds print as %q", got)
	}
}

// TestNormDescriptors: what each norm kind keeps, per branch and shared.
func TestNormDescriptors(t *testing.T) {
	for _, tt := range []struct {
		n             Norm
		affine, stats int
	}{
		{Norm{Kind: NoNorm}, 0, 0},
		{Norm{Kind: BN}, 1, 1},
		{Norm{Kind: MBN}, 2, 2},
		{Norm{Kind: MBN, Share: ShareStats}, 2, 1},
		{Norm{Kind: MBN, Share: ShareAffine}, 1, 2},
		{Norm{Kind: GN, Groups: 32}, 1, 0},
	} {
		if a, s := tt.n.AffineSets(), tt.n.StatSets(); a != tt.affine || s != tt.stats {
			t.Errorf("%s: %d affine sets, %d statistics sets; want %d, %d", tt.n.text(), a, s, tt.affine, tt.stats)
		}
	}
	for k := range norms {
		d := NormKind(k).Info()
		if d.Layer && d.RunningStats == d.PerImage {
			t.Errorf("%s: a norm layer normalizes either by batch statistics or per image", d.Name)
		}
		if d.Foldable && !d.RunningStats {
			t.Errorf("%s: only frozen running statistics fold into a conv", d.Name)
		}
	}
}

// TestWidening: widen multiplies every width of basic and preact blocks,
// and only the inner width of a bottleneck (torchvision's
// wide_resnet50_2); the stem keeps Width.
func TestWidening(t *testing.T) {
	for _, tt := range []struct {
		block             Block
		widen, stage      int
		inner, out, norms []int
	}{
		{Basic, 0, 2, []int{32}, []int{32}, []int{32}},
		{Basic, 2, 2, []int{64}, []int{64}, []int{64}},
		{Bottleneck, 2, 1, []int{32}, []int{64}, []int{32, 64}},
		{PreAct, 10, 1, []int{160}, []int{160}, []int{16, 160}},
		{PreAct, 10, 3, []int{640}, []int{640}, []int{320, 640}},
	} {
		s := &Spec{Block: tt.block, Width: 16, Widen: tt.widen}
		inner, out := s.StageWidths(tt.stage)
		if inner != tt.inner[0] || out != tt.out[0] || !slices.Equal(s.normChannels(tt.stage), tt.norms) {
			t.Errorf("%s widen %d stage %d: widths %d, %d, norms of %v channels; want %d, %d, %v",
				tt.block, tt.widen, tt.stage, inner, out, s.normChannels(tt.stage), tt.inner[0], tt.out[0], tt.norms)
		}
	}
	if c := (&Spec{Block: PreAct, Width: 16}).normChannels(0); c != nil {
		t.Errorf("a preact stem has norms of %v channels", c)
	}
}
