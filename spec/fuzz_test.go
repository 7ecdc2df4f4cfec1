package spec

import (
	"strings"
	"testing"
)

// maxMessage bounds an error message: the fields it quotes are cut.
const maxMessage = 400

func FuzzParse(f *testing.F) {
	for _, src := range specFiles(f) {
		f.Add(src)
	}
	f.Add([]byte(base))
	for _, tt := range parseErrorTests {
		if len(tt.src) <= 1<<12 { // the huge fields are tested once, not mutated
			f.Add([]byte(tt.src))
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("f.spec", src)
		out, ferr := Format("f.spec", src)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("Parse error %v but Format error %v", err, ferr)
		}
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 || len(list) > maxErrors {
				t.Fatalf("error %#v is not an ErrorList of 1 to %d errors", err, maxErrors)
			}
			lines := strings.Split(string(src), "\n")
			for i, e := range list {
				p := e.Pos
				if p.File != "f.spec" || p.Line < 1 || p.Line > len(lines) || p.Col < 1 || p.Col > len(lines[p.Line-1])+1 {
					t.Fatalf("error %v lies outside the input", e)
				}
				if len(e.Msg) > maxMessage {
					t.Fatalf("error message of %d bytes (at most %d): %.200s...", len(e.Msg), maxMessage, e.Msg)
				}
				if i > 0 && (p.Line < list[i-1].Pos.Line || p.Line == list[i-1].Pos.Line && p.Col < list[i-1].Pos.Col) {
					t.Fatalf("errors not sorted:\n%v", err)
				}
			}
			return
		}
		out2, err := Format("f.spec", out)
		if err != nil {
			t.Fatalf("Format of formatted:\n%s\n%v", out, err)
		}
		if string(out2) != string(out) {
			t.Fatalf("Format is not idempotent:\n%q\n%q", out, out2)
		}
		for _, src := range []string{string(out), s.String()} {
			s2, err := Parse("f.spec", []byte(src))
			if err != nil || !equal(s, s2) {
				t.Fatalf("reparsing\n%s\ngives %+v, %v\nwant %+v", src, s2, err, s)
			}
		}
	})
}
