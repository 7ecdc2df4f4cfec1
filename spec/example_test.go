package spec_test

import (
	"fmt"

	"github.com/netc/netc/spec"
)

func ExampleParse() {
	src := `model resnet338
input 3 224 224
classes 1000
stem imagenet
block bottleneck
depth 338
norm mbn
norm gn groups=16 stage=1
`
	s, err := spec.Parse("resnet338.spec", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Stages, s.Width, s.Mean, s.Std)
	for st := range s.Stem.NumStages() + 1 {
		fmt.Println(st, s.NormAt(st).Kind)
	}
	// Output:
	// [3 42 64 3] 64 [0.5 0.5 0.5] [0.5 0.5 0.5]
	// 0 mbn
	// 1 gn
	// 2 mbn
	// 3 mbn
	// 4 mbn
}

func ExampleParse_errors() {
	src := `model ResNet
input 3 224
classes 1000
stem imagenet
block bottleneck
`
	_, err := spec.Parse("bad.spec", []byte(src))
	fmt.Println(err)
	// Output:
	// bad.spec:1:7: model name "ResNet" is not a lowercase Go package name ([a-z][a-z0-9_]*)
	// bad.spec:2:1: too few arguments (usage: input C H W [mean=M] [std=S])
	// bad.spec:6:1: missing depth or stages directive
}

func ExampleFormat() {
	src := `# A ResNet-338 with Mixture BN.

norm    mbn           # the default
model   resnet338     # also the Go package name
input   3 224 224
classes 1000
stem    imagenet
block   bottleneck    # 1x1, 3x3, 1x1
depth   338
`
	out, err := spec.Format("resnet338.spec", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// # A ResNet-338 with Mixture BN.
	//
	// model resnet338 # also the Go package name
	// input 3 224 224
	// classes 1000
	// stem imagenet
	// block bottleneck # 1x1, 3x3, 1x1
	// depth 338
	// width 64
	// norm mbn # the default
}
