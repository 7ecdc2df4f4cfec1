package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

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
		st, ok := standardStages(s.Block, s.Stem, s.Depth)
		switch {
		case !ok:
			p.errs = append(p.errs, errorf(p.depthArg.pos,
				"depth %d is not a standard depth for %s blocks after the %s stem (standard: %s); give stages instead",
				s.Depth, s.Block, s.Stem, standardDepths(s.Block, s.Stem)))
		case slices.Max(st) > MaxBlocks:
			p.errs = append(p.errs, errorf(p.depthArg.pos, "depth %d makes %d blocks per stage; at most %d", s.Depth, slices.Max(st), MaxBlocks))
		default:
			s.Stages = st
		}
	} else if len(s.Stages) != n {
		p.errs = append(p.errs, errorf(p.stagesKw.pos, "the %s stem needs %d stages, got %d", s.Stem, n, len(s.Stages)))
	}
	if w := s.Width * s.Widening(); w > MaxWidth {
		p.errs = append(p.errs, errorf(p.widenArg.pos, "width %d times widen %d is %d channels in the first stage; at most %d", s.Width, s.Widen, w, MaxWidth))
	}
	for i, o := range s.Overrides {
		for j, st := range o.Stages {
			f := p.overrides[i].stages[j]
			switch {
			case st > n:
				p.errs = append(p.errs, errorf(f.pos, "stage %s out of range; the %s stem has stages 1..%d", clip(f.text), s.Stem, n))
			case st == 0 && len(s.normChannels(0)) == 0:
				p.errs = append(p.errs, errorf(f.pos, "the stem has no norm layer with %s blocks (each block normalizes its own input)", s.Block))
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

// standardStages returns the blocks per stage of a standard depth of
// blocks of kind b after stem st.
func standardStages(b Block, st Stem, depth int) ([]int, bool) {
	d := b.Info().depths[st]
	if stages, ok := d.table[depth]; ok {
		return slices.Clone(stages), true
	}
	if d.mul == 0 || depth <= d.add || (depth-d.add)%d.mul != 0 {
		return nil, false
	}
	stages := make([]int, st.NumStages())
	for i := range stages {
		stages[i] = (depth - d.add) / d.mul
	}
	return stages, true
}

// standardDepths lists the standard depths of blocks of kind b after
// stem st.
func standardDepths(b Block, st Stem) string {
	d := b.Info().depths[st]
	var ds []string
	for _, n := range slices.Sorted(maps.Keys(d.table)) {
		ds = append(ds, strconv.Itoa(n))
	}
	if d.mul != 0 {
		var first []string
		for n := 1; n <= 4; n++ {
			first = append(first, strconv.Itoa(d.mul*n+d.add))
		}
		ds = append(ds, fmt.Sprintf("%dn+%d for n >= 1: %s, ...", d.mul, d.add, strings.Join(first, ", ")))
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
		if n.Info().Groups == 0 || done[src] {
			continue
		}
		for _, c := range s.normChannels(st) {
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
			p.errs = append(p.errs, errorf(at.pos, "%s does not divide the %d channels of %s", n.text(), c, where))
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

// normChannels returns the channel counts of the norm layers of a stage
// (0: the stem), each once: for a residual stage, its blocks' inner and
// output widths and, for pre-activation blocks, the width of the stage's
// input, which its first block normalizes.
func (s *Spec) normChannels(stage int) []int {
	pre := s.Block.Info().PreAct
	if stage == 0 {
		if pre {
			return nil
		}
		return []int{s.Width}
	}
	inner, out := s.StageWidths(stage)
	cs := []int{inner, out}
	if pre {
		in := s.Width
		if stage > 1 {
			_, in = s.StageWidths(stage - 1)
		}
		cs = append([]int{in}, cs...)
	}
	return slices.Compact(cs)
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
