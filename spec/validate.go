package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// A layout is a kind of block after a kind of stem.
type layout struct {
	block Block
	stem  Stem
}

// standard holds the blocks per stage of the standard depths.
var standard = map[layout]map[int][]int{
	{Bottleneck, StemImageNet}: {
		50:  {3, 4, 6, 3},
		101: {3, 4, 23, 3},
		152: {3, 8, 36, 3},
		200: {3, 24, 36, 3},
		338: {3, 42, 64, 3},
		518: {3, 66, 100, 3},
		638: {3, 82, 124, 3},
	},
	{Basic, StemImageNet}: {
		18: {2, 2, 2, 2},
		34: {3, 4, 6, 3},
	},
	{Basic, StemCIFAR}: {
		20:  {3, 3, 3},
		32:  {5, 5, 5},
		44:  {7, 7, 7},
		56:  {9, 9, 9},
		110: {18, 18, 18},
	},
}

// defaults fills in what the spec left out.
func (p *parser) defaults() {
	s := &p.spec
	if s.Width == 0 {
		s.Width = 64
	}
	if p.defNorm == nil {
		s.Norm = Norm{Kind: BN}
	}
	s.Mean = perChannel(s.Mean, s.Input[0])
	s.Std = perChannel(s.Std, s.Input[0])
}

// perChannel returns v, which has 1 or c values (0.5 when empty), as c values.
func perChannel(v []float64, c int) []float64 {
	if len(v) == c {
		return v
	}
	x := 0.5
	if len(v) == 1 {
		x = v[0]
	}
	v = make([]float64, c)
	for i := range v {
		v[i] = x
	}
	return v
}

// validate checks what needs the whole spec.
func (p *parser) validate() {
	s := &p.spec
	n := s.Stem.NumStages()
	if s.Depth != 0 {
		if st, ok := standard[layout{s.Block, s.Stem}][s.Depth]; ok {
			s.Stages = slices.Clone(st)
		} else {
			p.errs = append(p.errs, errorf(p.depthArg.pos,
				"depth %d is not a standard depth for %s blocks after the %s stem (standard: %s); give stages instead",
				s.Depth, s.Block, s.Stem, standardDepths(s.Block, s.Stem)))
		}
	} else if len(s.Stages) != n {
		p.errs = append(p.errs, errorf(p.stagesKw.pos, "the %s stem needs %d stages, got %d", s.Stem, n, len(s.Stages)))
	}
	for i, o := range s.Overrides {
		for j, st := range o.Stages {
			if st > n {
				f := p.overrides[i].stages[j]
				p.errs = append(p.errs, errorf(f.pos, "stage %s out of range; the %s stem has stages 1..%d", clip(f.text), s.Stem, n))
			}
		}
	}
	if len(p.errs) > 0 {
		return
	}
	p.checkGroups()
	for i := 1; i <= 2; i++ {
		if min := minInput(s.Stem, n); s.Input[i] < min {
			p.errs = append(p.errs, errorf(p.inputArgs[i].pos, "input size %d is too small for the network's strides: every stride-2 layer needs a map of at least 2 pixels, so at least %d", s.Input[i], min))
		}
	}
}

// standardDepths lists the standard depths of a layout.
func standardDepths(b Block, st Stem) string {
	var ds []string
	for _, d := range slices.Sorted(maps.Keys(standard[layout{b, st}])) {
		ds = append(ds, strconv.Itoa(d))
	}
	if len(ds) == 0 {
		return "none"
	}
	return strings.Join(ds, ", ")
}

// checkGroups checks that each GN's groups divide the channels of the
// norm layers it applies to, reporting each norm line once.
func (p *parser) checkGroups() {
	s := &p.spec
	done := map[*normSrc]bool{}
	for st := 0; st <= s.Stem.NumStages(); st++ {
		n := s.NormAt(st)
		src := p.normSrc(st)
		if n.Kind != GN || done[src] {
			continue
		}
		for _, c := range s.channels(st) {
			if c%n.Groups == 0 {
				continue
			}
			at := src.groups
			if at.text == "" {
				at = src.kind
			}
			where := fmt.Sprintf("stage %d", st)
			if st == 0 {
				where = "the stem"
			}
			p.errs = append(p.errs, errorf(at.pos, "gn groups=%d does not divide the %d channels of %s", n.Groups, c, where))
			done[src] = true
			break
		}
	}
}

// normSrc returns where the norm of a stage was written, like NormAt.
func (p *parser) normSrc(stage int) *normSrc {
	src := p.defNorm
	for i, o := range p.spec.Overrides {
		if slices.Contains(o.Stages, stage) {
			src = &p.overrides[i]
		}
	}
	return src
}

// channels returns the channel counts of the norm layers of a stage: the
// block width and, if different, the block output.
func (s *Spec) channels(stage int) []int {
	if stage == 0 {
		return []int{s.Width}
	}
	w := s.Width << (stage - 1)
	if e := s.Block.Expansion(); e != 1 {
		return []int{w, w * e}
	}
	return []int{w}
}

// minInput is the smallest input height or width for which every
// stride-2 layer (the imagenet stem's conv and max-pool, the first conv of
// every stage after the first) sees a map of at least 2 pixels.
func minInput(stem Stem, stages int) int {
	type layer struct{ k, stride, pad int }
	var ls []layer
	if stem == StemImageNet {
		ls = append(ls, layer{7, 2, 3}, layer{3, 2, 1}) // conv, max-pool
	}
	for range stages - 1 {
		ls = append(ls, layer{3, 2, 1}) // the stride-2 conv of a stage's first block
	}
	fits := func(in int) bool {
		for _, l := range ls {
			if in < 2 {
				return false
			}
			in = (in+2*l.pad-l.k)/l.stride + 1
		}
		return true
	}
	in := 1
	for !fits(in) {
		in++
	}
	return in
}
