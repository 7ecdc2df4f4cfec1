package spec

import (
	"cmp"
	"fmt"
	"go/token"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ErrorList is the problems found in a spec, sorted by position.
type ErrorList []*Error

// Error returns one "file:line:col: message" line per problem.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// maxErrors is the most problems reported for one spec.
const maxErrors = 10

// maxDepth bounds the depth directive, which must then be a standard depth.
const maxDepth = 1 << 20

// maxQuote is the most bytes of a field that an error message quotes.
const maxQuote = 40

// quote returns text quoted for an error message, cut to maxQuote bytes.
func quote(text string) string {
	if len(text) > maxQuote {
		return strconv.Quote(text[:maxQuote]) + fmt.Sprintf("... (%d bytes)", len(text))
	}
	return strconv.Quote(text)
}

// clip returns text as is for an error message, or quoted and cut when
// longer than maxQuote bytes.
func clip(text string) string {
	if len(text) > maxQuote {
		return quote(text)
	}
	return text
}

// ParseFile reads and parses the spec at path.
func ParseFile(path string) (*Spec, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// Parse parses and validates the spec src read from filename. A non-nil
// error is an [ErrorList].
func Parse(filename string, src []byte) (*Spec, error) {
	p := parse(filename, src)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	s := p.spec // not &p.spec, which would keep the parser alive
	return &s, nil
}

// Keys of the directives, in canonical order. Override i has key
// keyOverride+i.
const (
	keyModel = iota
	keyInput
	keyClasses
	keyStem
	keyBlock
	keyDepth // depth or stages
	keyWidth
	keyWiden
	keyNorm // the default norm
	keyOverride
)

// An option is a key=value field.
type option struct{ key, val field }

// A directive describes how to parse one kind of line.
type directive struct {
	key      int // for directives that may appear once; -1 for norm
	usage    string
	min, max int      // number of arguments
	opts     []string // allowed options
	parse    func(p *parser, kw field, args []field, opts []option) *Error
}

var directives = map[string]directive{
	"model":   {keyModel, "model NAME", 1, 1, nil, (*parser).model},
	"input":   {keyInput, "input C H W [mean=M] [std=S]", 3, 3, []string{"mean", "std"}, (*parser).input},
	"classes": {keyClasses, "classes K", 1, 1, nil, (*parser).classes},
	"stem":    {keyStem, "stem imagenet|cifar", 1, 1, nil, (*parser).stem},
	"block":   {keyBlock, "block basic|bottleneck|preact", 1, 1, nil, (*parser).block},
	"depth":   {keyDepth, "depth D", 1, 1, nil, (*parser).depth},
	"stages":  {keyDepth, "stages N1 N2 N3 [N4]", 3, 4, nil, (*parser).stages},
	"width":   {keyWidth, "width W", 1, 1, nil, (*parser).width},
	"widen":   {keyWiden, "widen K", 1, 1, nil, (*parser).widen},
	"norm":    {-1, "norm bn|mbn|gn|none [groups=G] [share=stats|affine] [stage=S | stages=S1,S2,...]", 1, 1, []string{"groups", "share", "stage", "stages"}, (*parser).norm},
}

// normSrc is where a norm was written.
type normSrc struct {
	kind   field   // the kind argument
	groups field   // the groups= value; text "" when not given
	stages []field // the stages an override names
}

// A parser holds the state of parsing one spec.
type parser struct {
	spec  Spec
	errs  ErrorList
	lines []line
	eof   Pos
	keys  map[int]int   // line number → key of its directive
	seen  map[int]field // key → keyword of its first directive

	depthArg  field    // depth's argument
	widenArg  field    // widen's argument
	stagesKw  field    // the stages keyword
	inputArgs [3]field // input's arguments
	defNorm   *normSrc // the default norm, if written
	overrides []normSrc
}

// parse parses src, recording problems in p.errs.
func parse(filename string, src []byte) *parser {
	p := &parser{keys: map[int]int{}, seen: map[int]field{}}
	p.spec.File = filename
	p.lines, p.eof = lex(filename, src)
	for _, l := range p.lines {
		if len(p.errs) >= maxErrors {
			break
		}
		if len(l.fields) > 0 {
			if err := p.line(l); err != nil {
				p.errs = append(p.errs, err)
			}
		}
	}
	for _, r := range []struct {
		key  int
		what string
	}{
		{keyModel, "model"}, {keyInput, "input"}, {keyClasses, "classes"},
		{keyStem, "stem"}, {keyBlock, "block"}, {keyDepth, "depth or stages"},
	} {
		if _, ok := p.seen[r.key]; !ok && len(p.errs) < maxErrors {
			p.errs = append(p.errs, errorf(p.eof, "missing %s directive", r.what))
		}
	}
	if len(p.errs) == 0 {
		p.defaults()
		p.validate()
	}
	slices.SortStableFunc(p.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	if len(p.errs) > maxErrors {
		p.errs = p.errs[:maxErrors]
	}
	return p
}

func errorf(pos Pos, format string, args ...any) *Error {
	return &Error{pos, fmt.Sprintf(format, args...)}
}

// line parses one line that has fields.
func (p *parser) line(l line) *Error {
	kw := l.fields[0]
	d, ok := directives[kw.text]
	if !ok {
		return errorf(kw.pos, "unknown directive %s", quote(kw.text))
	}
	if d.key >= 0 {
		if first, dup := p.seen[d.key]; dup {
			if first.text == kw.text {
				return errorf(kw.pos, "duplicate %s directive (first on line %d)", kw.text, first.pos.Line)
			}
			return errorf(kw.pos, "%s and %s (line %d) both given; give one of them", kw.text, first.text, first.pos.Line)
		}
		p.seen[d.key] = kw
		p.keys[l.num] = d.key
	}
	var args []field
	var opts []option
	for _, f := range l.fields[1:] {
		key, val, isOpt := strings.Cut(f.text, "=")
		if !isOpt {
			args = append(args, f)
			continue
		}
		if !slices.Contains(d.opts, key) {
			return errorf(f.pos, "unknown option %s for %s", quote(key), kw.text)
		}
		for _, o := range opts {
			if o.key.text == key {
				return errorf(f.pos, "duplicate option %s=", key)
			}
		}
		vpos := f.pos
		vpos.Col += len(key) + 1
		if val == "" {
			return errorf(vpos, "option %s= needs a value", key)
		}
		opts = append(opts, option{field{key, f.pos}, field{val, vpos}})
	}
	if len(args) < d.min {
		return errorf(kw.pos, "too few arguments (usage: %s)", d.usage)
	}
	if len(args) > d.max {
		return errorf(args[d.max].pos, "too many arguments (usage: %s)", d.usage)
	}
	return d.parse(p, kw, args, opts)
}

// intArg parses f as an integer between min and max.
func intArg(f field, what string, min, max int) (int, *Error) {
	n, err := strconv.Atoi(f.text)
	if err != nil && err.(*strconv.NumError).Err != strconv.ErrRange {
		return 0, errorf(f.pos, "%s %s is not an integer", what, quote(f.text))
	}
	if err != nil || n < min || n > max {
		return 0, errorf(f.pos, "%s must be between %d and %d, got %s", what, min, max, clip(f.text))
	}
	return n, nil
}

func (p *parser) model(_ field, args []field, _ []option) *Error {
	name, at := args[0].text, args[0].pos
	if len(name) > MaxNameLen {
		return errorf(at, "model name %s is too long: at most %d bytes (it names the Go package and its files)", quote(name), MaxNameLen)
	}
	ok := name[0] >= 'a' && name[0] <= 'z'
	for _, c := range []byte(name) {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_')
	}
	if !ok {
		return errorf(at, "model name %s is not a lowercase Go package name ([a-z][a-z0-9_]*)", quote(name))
	}
	if token.IsKeyword(name) {
		return errorf(at, "model name %q is a Go keyword", name)
	}
	// The generated package is named without the underscores.
	switch pkg := strings.ReplaceAll(name, "_", ""); {
	case token.IsKeyword(pkg):
		return errorf(at, "model name %q makes the Go package name %q (without underscores), a Go keyword", name, pkg)
	case pkg == "main" || pkg == "init":
		return errorf(at, "model name %q makes the Go package name %q, which the model binary cannot import", name, pkg)
	}
	p.spec.Model = name
	return nil
}

func (p *parser) input(_ field, args []field, opts []option) *Error {
	for i, what := range [3]string{"input channels", "input height", "input width"} {
		n, err := intArg(args[i], what, 1, [3]int{MaxInputChannels, MaxInputSize, MaxInputSize}[i])
		if err != nil {
			return err
		}
		p.spec.Input[i] = n
	}
	copy(p.inputArgs[:], args)
	for _, o := range opts {
		v, err := floats(o, p.spec.Input[0])
		if err != nil {
			return err
		}
		if o.key.text == "mean" {
			p.spec.Mean = v
		} else {
			p.spec.Std = v
		}
	}
	return nil
}

// floats parses the mean= or std= option o, which gives one number or c.
func floats(o option, c int) ([]float64, *Error) {
	what := o.key.text
	fs := o.val.split(',')
	if len(fs) != 1 && len(fs) != c {
		return nil, errorf(o.val.pos, "%s has %d values; want 1 or %d (one per channel)", what, len(fs), c)
	}
	v := make([]float64, len(fs))
	for i, f := range fs {
		x, err := strconv.ParseFloat(f.text, 64)
		switch {
		case err != nil && err.(*strconv.NumError).Err != strconv.ErrRange:
			return nil, errorf(f.pos, "%s value %s is not a number", what, quote(f.text))
		case err != nil || math.IsInf(x, 0) || math.IsNaN(x):
			return nil, errorf(f.pos, "%s value %s is not finite", what, quote(f.text))
		case what == "std" && x <= 0:
			return nil, errorf(f.pos, "std value %s is not positive", clip(f.text))
		}
		v[i] = x
	}
	return v, nil
}

func (p *parser) classes(_ field, args []field, _ []option) *Error {
	n, err := intArg(args[0], "classes", 2, MaxClasses)
	p.spec.Classes = n
	return err
}

func (p *parser) stem(_ field, args []field, _ []option) *Error {
	switch args[0].text {
	case "imagenet":
		p.spec.Stem = StemImageNet
	case "cifar":
		p.spec.Stem = StemCIFAR
	default:
		return errorf(args[0].pos, "unknown stem %s; want imagenet or cifar", quote(args[0].text))
	}
	return nil
}

func (p *parser) block(_ field, args []field, _ []option) *Error {
	var names []string
	for b := range blocks {
		if blocks[b].Name == args[0].text {
			p.spec.Block = Block(b)
			return nil
		}
		names = append(names, blocks[b].Name)
	}
	return errorf(args[0].pos, "unknown block %s; want %s", quote(args[0].text), orList(names))
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (p *parser) depth(_ field, args []field, _ []option) *Error {
	n, err := intArg(args[0], "depth", 1, maxDepth)
	p.spec.Depth, p.depthArg = n, args[0]
	return err
}

func (p *parser) stages(kw field, args []field, _ []option) *Error {
	p.stagesKw = kw
	for _, a := range args {
		n, err := intArg(a, "blocks per stage", 1, MaxBlocks)
		if err != nil {
			return err
		}
		p.spec.Stages = append(p.spec.Stages, n)
	}
	return nil
}

func (p *parser) width(_ field, args []field, _ []option) *Error {
	n, err := intArg(args[0], "width", 1, MaxWidth)
	p.spec.Width = n
	return err
}

func (p *parser) widen(_ field, args []field, _ []option) *Error {
	n, err := intArg(args[0], "widen", 1, MaxWidth)
	p.spec.Widen, p.widenArg = n, args[0]
	return err
}

// normNames lists the norm kinds as a spec names them: those that add a
// layer first.
func normNames() []string {
	var with, without []string
	for k := range norms {
		if norms[k].Layer {
			with = append(with, norms[k].Name)
		} else {
			without = append(without, norms[k].Name)
		}
	}
	return append(with, without...)
}

// normsWith lists the names of the norm kinds whose descriptor has a
// property.
func normsWith(has func(*NormInfo) bool) string {
	var names []string
	for k := range norms {
		if has(&norms[k]) {
			names = append(names, norms[k].Name)
		}
	}
	return orList(names)
}

func (p *parser) norm(kw field, args []field, opts []option) *Error {
	src := normSrc{kind: args[0]}
	var n Norm
	found := false
	for k := range norms {
		if norms[k].Name == args[0].text {
			n, found = Norm{Kind: NormKind(k), Groups: norms[k].Groups}, true
		}
	}
	if !found {
		return errorf(args[0].pos, "unknown norm %s; want %s", quote(args[0].text), orList(normNames()))
	}
	var stages *option
	for _, o := range opts {
		switch o.key.text {
		case "groups":
			if n.Info().Groups == 0 {
				return errorf(o.key.pos, "groups= is only for %s", normsWith(func(d *NormInfo) bool { return d.Groups > 0 }))
			}
			g, err := intArg(o.val, "groups", 1, MaxGroups)
			if err != nil {
				return err
			}
			n.Groups, src.groups = g, o.val
		case "share":
			if n.Info().Branches < 2 {
				return errorf(o.key.pos, "share= is only for %s", normsWith(func(d *NormInfo) bool { return d.Branches > 1 }))
			}
			switch o.val.text {
			case "stats":
				n.Share = ShareStats
			case "affine":
				n.Share = ShareAffine
			default:
				return errorf(o.val.pos, "unknown share=%s; want stats or affine", quote(o.val.text))
			}
		case "stage", "stages":
			if stages != nil {
				return errorf(o.key.pos, "both stage= and stages= given")
			}
			stages = &o
		}
	}
	if stages == nil {
		if first := p.defNorm; first != nil {
			return errorf(kw.pos, "duplicate default norm (first on line %d)", first.kind.pos.Line)
		}
		p.spec.Norm, p.defNorm = n, &src
		p.keys[kw.pos.Line] = keyNorm
		return nil
	}
	fs := []field{stages.val}
	if stages.key.text == "stages" {
		fs = stages.val.split(',')
	}
	o := NormOverride{Pos: kw.pos, Norm: n}
	for _, f := range fs {
		st := 0
		if f.text != "stem" {
			var err error
			st, err = strconv.Atoi(f.text)
			if err != nil || st < 1 {
				return errorf(f.pos, "bad stage %s; want stem or a stage number from 1", quote(f.text))
			}
		}
		if slices.Contains(o.Stages, st) {
			return errorf(f.pos, "stage %s listed twice", clip(f.text))
		}
		for _, prev := range p.spec.Overrides {
			if slices.Contains(prev.Stages, st) && prev.Norm != n {
				return errorf(f.pos, "stage %s already has norm %s (line %d); the overrides of a stage must agree", clip(f.text), prev.Norm.text(), prev.Pos.Line)
			}
		}
		o.Stages = append(o.Stages, st)
	}
	src.stages = fs
	p.keys[kw.pos.Line] = keyOverride + len(p.spec.Overrides)
	p.spec.Overrides = append(p.spec.Overrides, o)
	p.overrides = append(p.overrides, src)
	return nil
}
