package train

import (
	"context"
	"os"
	"testing"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/kernels"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

// BenchmarkAdversarialStep is one step of PGD-10 adversarial training of
// ResNet-20 (CIFAR) at batch 128 on synthetic images: ten attack steps
// (forward and input gradient in inference mode), then the training
// forward and backward and the SGD update. It reports images per second;
// profile it with -cpuprofile. NETC_ISA and NETC_INTERP=gemm choose the
// kernels, to compare.
func BenchmarkAdversarialStep(b *testing.B) {
	if err := kernels.Prefer(kernels.ISA(os.Getenv("NETC_ISA"))); err != nil {
		b.Fatalf("NETC_ISA: %v", err)
	}
	defer kernels.Prefer("")
	src, err := specs.FS.ReadFile("resnet20-cifar.spec")
	if err != nil {
		b.Fatal(err)
	}
	s, err := spec.Parse("resnet20-cifar.spec", src)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 128
	c := Defaults(batch)
	c.Seed, c.Adversarial = 1, true
	c.Attack = pgd.Config{Eps: 8.0 / 255, Step: 2.0 / 255, Steps: 10, Loss: pgd.Untargeted}
	m, err := interp.NewModelWith(s, c.Seed, interp.Options{GEMM: os.Getenv("NETC_INTERP") == "gemm"})
	if err != nil {
		b.Fatal(err)
	}
	c.Limit = batch * b.N
	r := &Run{Dir: b.TempDir(), Config: c, Model: m, Data: data.Synthetic(batch*b.N, 3, 32, 32, 10, 1), Quiet: true}
	if err := r.Start(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := r.Train(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}
