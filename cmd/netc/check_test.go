package main

import (
	"strings"
	"testing"
)

// TestCheckWideResNet: netc check of the WRN-28-10 spec prints the Wide
// ResNet's 36,479,194 parameters and its widening.
func TestCheckWideResNet(t *testing.T) {
	code, out, stderr := runCapture(t, "check", "../../specs/wrn28-10-cifar.spec")
	if code != 0 {
		t.Fatalf("netc check: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"preact blocks, stages 4 4 4, width 16, widen 10, norm bn", "parameters     36,479,194\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("netc check printed\n%s\nwithout %q", out, want)
		}
	}
}
