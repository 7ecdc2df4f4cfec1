package main

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/cli"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/specs"
)

// shownFlag matches a flag's line in the flag package's help: its name,
// and its value's type, absent for a bool.
var shownFlag = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9-]*)( [a-z]+)?$`)

// helpCase is a command line (program and command) whose -h is checked.
type helpCase struct {
	name string
	run  func(args []string) int
}

// checkHelpShowsEveryFlag runs each case with -h, which must exit 0, and
// then, for every flag some case's help shows or in extra (name -> bool
// flag), each case with that flag and -h: a case that accepts the flag
// must show it in its help. (A flag given as --name=1 or, for a bool,
// --name, followed by -h, prints the help without running the command.)
func checkHelpShowsEveryFlag(t *testing.T, cases []helpCase, extra map[string]bool) {
	t.Helper()
	shown := map[string]map[string]bool{}
	isBool := map[string]bool{}
	for name, b := range extra {
		isBool[name] = b
	}
	for _, c := range cases {
		code, _, help := capture(t, func() int { return c.run([]string{"-h"}) })
		if code != 0 {
			t.Fatalf("%s -h: exit %d: %s", c.name, code, help)
		}
		shown[c.name] = map[string]bool{}
		for _, m := range shownFlag.FindAllStringSubmatch(help, -1) {
			shown[c.name][m[1]] = true
			isBool[m[1]] = m[2] == ""
		}
		if len(shown[c.name]) == 0 && !strings.Contains(help, "usage") && !strings.Contains(help, "Usage") {
			t.Errorf("%s -h prints no usage: %q", c.name, help)
		}
	}
	for _, c := range cases {
		for _, flag := range slices.Sorted(maps.Keys(isBool)) {
			if shown[c.name][flag] {
				continue
			}
			arg := "--" + flag + "=1"
			if isBool[flag] {
				arg = "--" + flag
			}
			_, _, stderr := capture(t, func() int { return c.run([]string{arg, "-h"}) })
			if !strings.Contains(stderr, "flag provided but not defined") {
				t.Errorf("%s accepts %s, but its -h does not show it:\n%s", c.name, arg, stderr)
			}
		}
	}
}

// TestHelpShowsEveryFlag checks every netc command's -h: the deprecated
// --interp (which netc takes before the command's flag set) included.
func TestHelpShowsEveryFlag(t *testing.T) {
	var cases []helpCase
	for _, c := range commands {
		prefix := []string{c.name}
		if c.name == "bench" { // bench kernels, bench model
			prefix = append(prefix, strings.Fields(c.args)[0])
		}
		cases = append(cases, helpCase{strings.Join(prefix, " "), func(args []string) int { return run(append(slices.Clone(prefix), args...)) }})
	}
	checkHelpShowsEveryFlag(t, cases, map[string]bool{"interp": true})

	for _, name := range []string{"train", "finetune-norm", "eval", "attack", "predict", "bench model"} {
		_, _, help := capture(t, func() int { return run(append(strings.Fields(name), "-h")) })
		if !strings.Contains(help, "  -interp\n") {
			t.Errorf("netc %s -h does not show -interp:\n%s", name, help)
		}
	}
	_, _, help := runCapture(t, "bench", "-h")
	for _, want := range []string{"bench kernels", "bench model SPEC", "-net", "-op", "-layer", "-time", "-threads", "-interp", "warnings"} {
		if !strings.Contains(help, want) {
			t.Errorf("netc bench -h lacks %q:\n%s", want, help)
		}
	}
}

// TestModelBinaryHelpShowsEveryFlag checks -h of every command of a
// model binary (cli.Main, here over the interpreter).
func TestModelBinaryHelpShowsEveryFlag(t *testing.T) {
	s, err := specs.Parse(specs.Default)
	if err != nil {
		t.Fatal(err)
	}
	newModel := func(seed uint64) (nn.Model, error) { return interp.NewModel(s, seed) }
	var cases []helpCase
	for _, name := range []string{"train", "finetune-norm", "eval", "attack", "bench", "predict"} {
		cases = append(cases, helpCase{"model binary " + name, func(args []string) int { return cli.Main(newModel, append([]string{name}, args...)) }})
	}
	checkHelpShowsEveryFlag(t, cases, nil)
}

// TestInterpFlag checks the forms of the deprecated --interp that netc
// takes out of a command's arguments.
func TestInterpFlag(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		interp bool // given
		rest   []string
		bad    bool
	}{
		{args: []string{"a", "--interp", "b"}, interp: true, rest: []string{"a", "b"}},
		{args: []string{"-interp"}, interp: true},
		{args: []string{"--interp=true", "x"}, interp: true, rest: []string{"x"}},
		{args: []string{"--interp", "--interp=false"}, interp: true, rest: nil},
		{args: []string{"interp", "--interpret"}, rest: []string{"interp", "--interpret"}},
		{args: []string{"x", "--", "--interp"}, rest: []string{"x", "--", "--interp"}},
		{args: []string{"--interp=maybe"}, bad: true},
	} {
		interp, rest, err := interpFlag(tc.args)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "maybe") {
				t.Errorf("interpFlag(%q): %v, want an error naming the value", tc.args, err)
			}
			continue
		}
		if err != nil || interp != tc.interp || !slices.Equal(rest, tc.rest) {
			t.Errorf("interpFlag(%q) = %v, %q, %v; want %v, %q", tc.args, interp, rest, err, tc.interp, tc.rest)
		}
	}
}
