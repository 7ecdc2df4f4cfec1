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

// TestCheckProgram: netc check --program prints the lowered program of a
// pass, the attack one folding BN into the convolutions; a pass it does
// not know is bad input.
func TestCheckProgram(t *testing.T) {
	code, out, stderr := runCapture(t, "check", "--program", "attack", "../../specs/resnet20-cifar.spec")
	if code != 0 {
		t.Fatalf("netc check --program attack: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"program attack of resnet20cifar:", "foldedconv          layer1.0.conv1", "backward:", "buffers:"} {
		if !strings.Contains(out, want) {
			t.Errorf("netc check --program attack printed\n%s\nwithout %q", out, want)
		}
	}
	if code, _, stderr := runCapture(t, "check", "--program", "eval", "../../specs/resnet20-cifar.spec"); code != 2 || !strings.Contains(stderr, "want train or attack") {
		t.Errorf("--program eval: exit %d, %q", code, stderr)
	}
}
