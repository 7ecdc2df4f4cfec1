package asm

import (
	"strings"
	"testing"

	"github.com/mmcloughlin/avo/build"
)

func TestPlanCheck(t *testing.T) {
	for _, tc := range []struct {
		plan Plan
		isa  ISA
		ok   bool
	}{
		{Plan{12, 2}, AVX2, true},
		{Plan{14, 2}, AVX2, true},
		{Plan{15, 2}, AVX2, false}, // would spill into Y16: SIGILL without AVX-512
		{Plan{24, 2}, AVX512, true},
		{Plan{31, 2}, AVX512, false},
	} {
		if err := tc.plan.Check(tc.isa); (err == nil) != tc.ok {
			t.Errorf("%+v on %s: %v", tc.plan, tc.isa.Name, err)
		}
	}
}

// A generator whose plan does not fit refuses to write code.
func TestGeneratorRejectsOversizedPlan(t *testing.T) {
	old := FMAChains["AVX2"]
	FMAChains["AVX2"] = 15
	defer func() { FMAChains["AVX2"] = old }()
	err := FMAPeak(build.NewContext(), AVX2)
	if err == nil || !strings.Contains(err.Error(), "AVX2 has 16") {
		t.Fatalf("15 chains + 2 operands on AVX2: %v, want an error", err)
	}
}
