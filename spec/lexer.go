package spec

import "strings"

// spaces are the bytes that separate fields.
const spaces = " \t\r\v\f"

// A field is a run of non-space bytes on a line.
type field struct {
	text string
	pos  Pos
}

// A line is one line of a spec, split into fields.
type line struct {
	num     int
	fields  []field
	comment string // from # to the end of the line, trailing space trimmed; "" if none
}

// lex splits src into lines and fields. It also returns the position just
// past the last byte of src.
func lex(file string, src []byte) (lines []line, eof Pos) {
	text := string(src)
	for n := 1; ; n++ {
		s, rest, more := strings.Cut(text, "\n")
		if !more {
			eof = Pos{file, n, len(s) + 1}
		}
		l := line{num: n}
		if i := strings.IndexByte(s, '#'); i >= 0 {
			l.comment = strings.TrimRight(s[i:], spaces)
			s = s[:i]
		}
		for i := 0; i < len(s); {
			if strings.IndexByte(spaces, s[i]) >= 0 {
				i++
				continue
			}
			j := i
			for j < len(s) && strings.IndexByte(spaces, s[j]) < 0 {
				j++
			}
			l.fields = append(l.fields, field{s[i:j], Pos{file, n, i + 1}})
			i = j
		}
		lines = append(lines, l)
		if !more {
			return lines, eof
		}
		text = rest
	}
}

// split cuts f at each sep, keeping the position of every piece.
func (f field) split(sep byte) []field {
	var out []field
	col := f.pos.Col
	for s := f.text; ; {
		i := strings.IndexByte(s, sep)
		if i < 0 {
			return append(out, field{s, Pos{f.pos.File, f.pos.Line, col}})
		}
		out = append(out, field{s[:i], Pos{f.pos.File, f.pos.Line, col}})
		s, col = s[i+1:], col+i+1
	}
}
