package spec

import (
	"bytes"
	"strconv"
	"strings"
)

// A directiveText is a directive in canonical form, with its key.
type directiveText struct {
	key  int
	text string
}

// canonical returns the directives of s in canonical order: model, input,
// classes, stem, block, depth or stages, width, widen (when the spec gives
// it), the default norm, then the overrides in order. Numbers are in
// shortest form; mean and std are left out when they are the default 0.5
// and written once when all channels share them; gn always has its
// groups.
func (s *Spec) canonical() []directiveText {
	ints := func(v []int) string {
		f := make([]string, len(v))
		for i, n := range v {
			f[i] = strconv.Itoa(n)
		}
		return strings.Join(f, " ")
	}
	input := "input " + ints(s.Input[:]) + floatsOption("mean", s.Mean) + floatsOption("std", s.Std)
	depth := "stages " + ints(s.Stages)
	if s.Depth != 0 {
		depth = "depth " + strconv.Itoa(s.Depth)
	}
	ds := []directiveText{
		{keyModel, "model " + s.Model},
		{keyInput, input},
		{keyClasses, "classes " + strconv.Itoa(s.Classes)},
		{keyStem, "stem " + s.Stem.String()},
		{keyBlock, "block " + s.Block.String()},
		{keyDepth, depth},
		{keyWidth, "width " + strconv.Itoa(s.Width)},
	}
	if s.Widen != 0 {
		ds = append(ds, directiveText{keyWiden, "widen " + strconv.Itoa(s.Widen)})
	}
	ds = append(ds, directiveText{keyNorm, "norm " + s.Norm.text()})
	for i, o := range s.Overrides {
		st := make([]string, len(o.Stages))
		for j, n := range o.Stages {
			st[j] = strconv.Itoa(n)
			if n == 0 {
				st[j] = "stem"
			}
		}
		opt := " stages="
		if len(st) == 1 {
			opt = " stage="
		}
		ds = append(ds, directiveText{keyOverride + i, "norm " + o.Norm.text() + opt + strings.Join(st, ",")})
	}
	return ds
}

// text is the norm's part of a norm directive.
func (n Norm) text() string {
	d := n.Info()
	switch {
	case d.Groups > 0 && n.Groups > 0:
		return d.Name + " groups=" + strconv.Itoa(n.Groups)
	case d.Branches > 1 && n.Share != ShareNothing:
		return d.Name + " share=" + n.Share.String()
	}
	return d.Name
}

// floatsOption formats a mean= or std= option, or returns "" for the
// default.
func floatsOption(key string, v []float64) string {
	same := true
	for _, x := range v {
		same = same && x == v[0]
	}
	switch {
	case len(v) == 0 || same && v[0] == 0.5:
		return ""
	case same:
		v = v[:1]
	}
	f := make([]string, len(v))
	for i, x := range v {
		f[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return " " + key + "=" + strings.Join(f, ",")
}

// String returns s in canonical form without comments; Parse reads it back
// to an equal Spec.
func (s *Spec) String() string {
	var b strings.Builder
	for _, d := range s.canonical() {
		b.WriteString(d.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// Format parses the spec src read from filename and returns it in
// canonical form (see [Spec.String]) with its comments. Comment lines above
// a directive move with it, as does a comment at the end of its line;
// those end-of-line comments are aligned one space after the longest
// directive of each run of commented lines. Comments before a blank line
// that precedes the first directive stay at the top, comments after the
// last stay at the bottom. Runs of blank lines become one. The error, if
// any, is an [ErrorList].
func Format(filename string, src []byte) ([]byte, error) {
	p := parse(filename, src)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	var header, pending []string // comment lines and blank ("") lines
	docs := map[int][]string{}   // key → the lines above its directive
	comments := map[int]string{} // key → its end-of-line comment
	first := true
	for _, l := range p.lines {
		if len(l.fields) == 0 {
			pending = append(pending, l.comment)
			continue
		}
		if first {
			i := lastBlank(pending)
			header, pending = pending[:i+1], pending[i+1:]
			first = false
		}
		k := p.keys[l.num]
		docs[k], comments[k] = collapse(pending), l.comment
		pending = nil
	}

	ds := p.spec.canonical()
	docs[ds[0].key] = trimBlanks(docs[ds[0].key])
	// width[i] is the column, less one, of directive i's comment.
	width := make([]int, len(ds))
	for i := 0; i < len(ds); {
		if comments[ds[i].key] == "" {
			i++
			continue
		}
		j := i + 1
		for j < len(ds) && comments[ds[j].key] != "" && len(docs[ds[j].key]) == 0 {
			j++
		}
		w := 0
		for _, d := range ds[i:j] {
			w = max(w, len(d.text))
		}
		for k := i; k < j; k++ {
			width[k] = w
		}
		i = j
	}

	var b bytes.Buffer
	put := func(lines ...string) {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	if header = trimBlanks(collapse(header)); len(header) > 0 {
		put(header...)
		put("")
	}
	for i, d := range ds {
		put(docs[d.key]...)
		if c := comments[d.key]; c != "" {
			put(d.text + strings.Repeat(" ", width[i]-len(d.text)+1) + c)
		} else {
			put(d.text)
		}
	}
	trailing := collapse(pending)
	for len(trailing) > 0 && trailing[len(trailing)-1] == "" {
		trailing = trailing[:len(trailing)-1]
	}
	put(trailing...)
	return b.Bytes(), nil
}

// lastBlank returns the index of the last blank line, or -1.
func lastBlank(lines []string) int {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] == "" {
			return i
		}
	}
	return -1
}

// collapse replaces each run of blank lines with one.
func collapse(lines []string) []string {
	var out []string
	for i, l := range lines {
		if l != "" || i == 0 || lines[i-1] != "" {
			out = append(out, l)
		}
	}
	return out
}

// trimBlanks removes blank lines at the start and end.
func trimBlanks(lines []string) []string {
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
