// Package experiments holds the paper's experiments at small scale: grids
// of training runs (strategies, attack strength, depth, ε), each resumed
// from its checkpoint when interrupted, their evaluation, and the report
// (docs/REPRODUCTION.md) that states per finding of the paper whether it
// shows at this scale.
package experiments

import (
	"fmt"
	"strings"

	"github.com/netc/netc/runtime/eval"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/runtime/train"
	"github.com/netc/netc/spec"
	"github.com/netc/netc/specs"
)

// Row is one training run of a grid and how it is evaluated.
type Row struct {
	Name  string // folder name, and the key findings refer to
	Label string // the strategy, as in the paper's tables
	Norm  string // the spec's norm line: "bn", "mbn", "gn groups=4"
	// Stages overrides the spec's blocks per stage, its stages or depth
	// line ("" keeps it).
	Stages string
	Train  train.Config
	// Init names the row whose checkpoint starts this one.
	Init string
	// Branch is the MBN branch evaluated (Adv; Clean for MBN_clean).
	Branch nn.Branch
	// Group is the table section ("strategies", "attack strength", ...).
	Group string
}

// Grid is a set of runs on one data set and base spec with one
// evaluation protocol, fixed before any run.
type Grid struct {
	Name     string // "mnist", "cifar"
	Title    string // "MNIST", "CIFAR-10"
	SpecFile string // in specs.FS
	Eval     eval.Config
	Rows     []Row
	// Budget says in words what each run costs: data, epochs, attack.
	Budget string
	// WeakSteps is the attack-strength sweep's weakest training attacker.
	WeakSteps int
}

// spec returns the row's spec: the grid's base with the row's norm and
// stages (in place of its stages or depth line).
func (g *Grid) spec(r Row) (*spec.Spec, []byte, error) {
	src, err := specs.FS.ReadFile(g.SpecFile)
	if err != nil {
		return nil, nil, err
	}
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == "norm" && r.Norm != "":
			lines[i] = "norm " + r.Norm
		case len(f) > 0 && (f[0] == "stages" || f[0] == "depth") && r.Stages != "":
			lines[i] = "stages " + r.Stages
		}
	}
	src = []byte(strings.Join(lines, "\n"))
	s, err := spec.Parse(r.Name+".spec", src)
	return s, src, err
}

// Row returns the row of a name.
func (g *Grid) Row(name string) (Row, bool) {
	for _, r := range g.Rows {
		if r.Name == name {
			return r, true
		}
	}
	return Row{}, false
}

// MNIST is the MNIST grid at ε = 0.3: the demo's recipe for every run (a
// standard model per norm type, then adversarial fine-tuning from it with
// ε ramped up), strategies × running statistics, a sweep of training
// PGD steps, and three depths.
func MNIST() *Grid {
	base := train.Defaults(128)
	base.Data, base.Seed, base.LR, base.Smoothing = "mnist", 1, 0.2, 0

	std := base
	std.Epochs, std.Limit, std.DecayEpochs = 1, 20000, []float64{0.75}

	adv := base
	adv.Epochs, adv.Limit, adv.DecayEpochs, adv.EpsWarmup = 4, 10000, []float64{3}, 1.2
	adv.Adversarial = true
	adv.Attack = pgd.Config{Eps: 0.3, Step: 0.2, Steps: 2, Loss: pgd.Untargeted, CleanStart: 0.2}

	g := &Grid{
		Name:     "mnist",
		Title:    "MNIST",
		SpecFile: "mnist-resnet.spec",
		Eval: eval.Config{
			Attack: pgd.Config{Eps: 0.3, Step: 0.01, Loss: pgd.Untargeted},
			Iters:  []int{10, 40, 100}, Batch: 250, Limit: 1000, Seed: 1,
		},
		Budget: "MNIST, the first 20,000 training images for one epoch of standard training (lr 0.2, x0.1 at 75%), " +
			"then adversarial fine-tuning from that model: 4 epochs of 10,000 images (40,000 adversarial images), " +
			"untargeted PGD-2 (step 0.2) at ε = 0.3 ramped up over the first 1.2 epochs, lr 0.2 x0.1 after epoch 3, " +
			"batch 128, seed 1; \"running stats\" normalizes with the running statistics in the last of the 4 epochs. " +
			"Evaluation: the first 1,000 test images, untargeted PGD-10/40/100, step 0.01, ε = 0.3, random start.",
	}
	g.addRows(std, adv, "gn groups=4", []int{1, 4}, [][2]string{{"depth8", "1 1 1"}, {"depth14", "2 2 2"}, {"depth20", "3 3 3"}})
	return g
}

// CIFAR is the CIFAR-10 grid on ResNet-20 at ε = 8/255 (and 16/255 for
// the main strategies): the same rows as MNIST's, each adversarial run
// fine-tuning a standard model of its norm type, at a budget that fits
// the whole grid in about three hours on two cores. data is a
// cifar10:PATH source.
func CIFAR(data string) *Grid {
	base := train.Defaults(128)
	base.Data, base.Seed, base.LR, base.Smoothing = data, 1, 0.1, 0

	std := base
	std.Epochs, std.Limit, std.DecayEpochs = 3, 20000, []float64{2.5}

	adv := base
	adv.Epochs, adv.Limit, adv.DecayEpochs, adv.EpsWarmup = 2, 15000, []float64{1.5}, 0.5
	adv.Adversarial = true
	adv.Attack = pgd.Config{Eps: 8.0 / 255, Step: 3.0 / 255, Steps: 3, Loss: pgd.Untargeted, CleanStart: 0.2}

	g := &Grid{
		Name:     "cifar",
		Title:    "CIFAR-10",
		SpecFile: "resnet20-cifar.spec",
		Eval: eval.Config{
			Attack: pgd.Config{Eps: 8.0 / 255, Step: 1.0 / 255, Loss: pgd.Untargeted},
			Iters:  []int{10, 20, 50}, Batch: 250, Limit: 500, Seed: 1,
		},
		Budget: "CIFAR-10 (" + data + "), ResNet-20, the first 20,000 training images per epoch for 3 epochs of standard " +
			"training (lr 0.1, x0.1 at 2.5 epochs), then 2 epochs of 15,000 images of adversarial fine-tuning from that model, " +
			"untargeted PGD-3 (step 3/255) at ε = 8/255 ramped up over the first half epoch, lr 0.1 x0.1 at 1.5 epochs, batch 128, " +
			"seed 1; \"running stats\" normalizes with the running statistics in the last epoch. Evaluation: the first 500 test " +
			"images, untargeted PGD-10/20/50, step 1/255, ε = 8/255, random start; the ε = 16/255 rows are evaluated at ε = 8/255 too.",
	}
	g.addRows(std, adv, "gn groups=4", []int{1, 7}, [][2]string{{"depth8", "1 1 1"}, {"depth14", "2 2 2"}, {"depth20", "3 3 3"}})
	for _, ratio := range []float64{0, 1} {
		c := adv
		c.CleanRatio = ratio
		c.Attack.Eps, c.Attack.Step = 16.0/255, 6.0/255
		g.Rows = append(g.Rows, Row{Name: fmt.Sprintf("eps16-clean%.0f", 100*ratio), Label: fmt.Sprintf("100%% adv + %.0f%% clean, ε = 16/255 training", 100*ratio),
			Norm: "bn", Train: c, Init: "standard-bn", Branch: nn.Adv, Group: "epsilon"})
	}
	return g
}

// addRows adds the rows every grid has: a standard model per norm type;
// the strategies (BN with 0/20/60/100% clean images, ALP, MBN_adv with
// and without ALP, GN), each without and with running statistics in the
// last epoch, and MBN_clean; adversarial-only and fully mixed batches
// trained with weaker and stronger attackers (steps); and adversarial-
// only training at several depths (name, stages).
func (g *Grid) addRows(std, adv train.Config, gn string, steps []int, depths [][2]string) {
	add := func(r Row) { g.Rows = append(g.Rows, r) }
	for _, n := range []struct{ name, norm string }{{"bn", "bn"}, {"mbn", "mbn"}, {"gn", gn}} {
		add(Row{Name: "standard-" + n.name, Label: "0% adv + 100% clean (standard), " + strings.ToUpper(n.name), Norm: n.norm, Train: std, Group: "standard"})
	}
	strategy := func(name, label, norm string, ratio, alp float64, rs bool) {
		c := adv
		c.CleanRatio, c.ALP = ratio, alp
		if rs {
			c.RunningStatsEpochs = 1
			name += "-rs"
			label += ", running stats"
		}
		add(Row{Name: name, Label: label, Norm: norm, Train: c, Init: "standard-" + strings.Fields(norm)[0], Branch: nn.Adv, Group: "strategies"})
	}
	for _, rs := range []bool{false, true} {
		strategy("adv100-clean100", "100% adv + 100% clean", "bn", 1, 0, rs)
		strategy("adv100-clean100-alp", "100% adv + 100% clean, ALP 0.5", "bn", 1, 0.5, rs)
		strategy("adv100-clean60", "100% adv + 60% clean", "bn", 0.6, 0, rs)
		strategy("adv100-clean20", "100% adv + 20% clean", "bn", 0.2, 0, rs)
		strategy("adv100-clean0", "100% adv + 0% clean", "bn", 0, 0, rs)
		strategy("mbn-adv", "MBN_adv, 100% adv + 100% clean", "mbn", 1, 0, rs)
		strategy("mbn-adv-alp", "MBN_adv, 100% adv + 100% clean, ALP 0.5", "mbn", 1, 0.5, rs)
		strategy("gn", "GN, 100% adv + 100% clean", gn, 1, 0, rs)
	}
	// MBN_clean: the clean branch of the MBN model, evaluated as is.
	if r, ok := g.Row("mbn-adv"); ok {
		r.Name, r.Label, r.Branch, r.Init = "mbn-clean", "MBN_clean, 100% adv + 100% clean", nn.Clean, "mbn-adv"
		r.Train.Epochs = 0 // evaluates mbn-adv's checkpoint
		add(r)
	}
	g.WeakSteps = steps[0]
	for _, n := range steps {
		for _, ratio := range []float64{0, 1} {
			c := adv
			c.CleanRatio = ratio
			c.Attack.Step = c.Attack.Step * float64(c.Attack.Steps) / float64(n) // the same total step length
			c.Attack.Steps = n
			add(Row{Name: fmt.Sprintf("pgd%d-clean%.0f", n, 100*ratio), Label: fmt.Sprintf("100%% adv + %.0f%% clean, PGD-%d training", 100*ratio, n),
				Norm: "bn", Train: c, Init: "standard-bn", Branch: nn.Adv, Group: "attack strength"})
		}
	}
	// The MBN ablation: branches that share their statistics or their
	// affine parameters, each from its own standard model.
	for _, sh := range []string{"stats", "affine"} {
		norm := "mbn share=" + sh
		add(Row{Name: "standard-mbn-share-" + sh, Label: "standard, MBN sharing " + sh, Norm: norm, Train: std, Group: "ablation-init"})
		c := adv
		c.CleanRatio = 1
		add(Row{Name: "mbn-share-" + sh, Label: "MBN_adv sharing " + sh + ", 100% adv + 100% clean", Norm: norm, Train: c,
			Init: "standard-mbn-share-" + sh, Branch: nn.Adv, Group: "MBN ablation"})
	}
	for _, d := range depths {
		add(Row{Name: "standard-bn-" + d[0], Label: "standard, " + d[0], Norm: "bn", Stages: d[1], Train: std, Group: "depth-init"})
		c := adv
		c.RunningStatsEpochs = 1
		add(Row{Name: "adv-" + d[0], Label: "100% adv + 0% clean, running stats, ResNet-" + strings.TrimPrefix(d[0], "depth"),
			Norm: "bn", Stages: d[1], Train: c, Init: "standard-bn-" + d[0], Branch: nn.Adv, Group: "depth"})
	}
}
