package diag

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/netc/netc/compiler"
	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/interp"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
	"github.com/netc/netc/spec"
)

// tiny builds a small ResNet on 1×8×8 images with random parameters
// and running statistics. Width 16 runs on the kernels (blocked
// activations), width 4 on ref's ops.
func tiny(t *testing.T, width int, norm string) (*interp.Model, *compiler.Graph) {
	t.Helper()
	src := fmt.Sprintf("model tiny\ninput 1 8 8\nclasses 3\nstem cifar\nblock basic\nstages 1 1 1\nwidth %d\nnorm %s\n", width, norm)
	s, err := spec.Parse("tiny.spec", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m, err := interp.NewModel(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range m.Params() {
		if p.Norm { // the zero-initialized gammas would hide the layers after them
			for i := range p.Value.Data {
				p.Value.Data[i] += float32(0.5 + rng.Float64())
			}
		}
	}
	for _, st := range m.NormState() {
		for i := range st.Mean {
			st.Mean[i] = float32(rng.NormFloat64())
			st.Var[i] = float32(0.5 + rng.Float64())
		}
	}
	g, err := compiler.Lower(s)
	if err != nil {
		t.Fatal(err)
	}
	return m, g
}

// oracle computes, in float64 on ref's ops, the per-channel mean and
// biased variance of every BN layer's input when x runs through branch
// br with batch statistics: keyed by NormState name.
func oracle(t *testing.T, m *interp.Model, g *compiler.Graph, x *nn.Tensor, br nn.Branch) map[string][2][]float64 {
	t.Helper()
	net := interp.New[float64](g, rand.New(rand.NewPCG(0, 0)))
	for i, p := range m.Params() {
		dst := net.ParamValues()[i]
		for j, v := range p.Value.Data {
			dst[j] = float64(v)
		}
	}
	x64 := make([]float64, len(x.Data))
	for i, v := range x.Data {
		x64[i] = float64(v)
	}
	n := x.Shape[0]
	net.Forward(x64, n, nn.Mode{Norm: nn.BatchStats, Branch: br})
	out := map[string][2][]float64{}
	for _, nd := range g.NormLayers() {
		in := net.Activation(nd.In[0])
		c, hw := nd.C, nd.H*nd.W
		mean, variance := make([]float64, c), make([]float64, c)
		for ch := range c {
			s := 0.0
			for i := range n {
				for _, v := range in[(i*c+ch)*hw : (i*c+ch+1)*hw] {
					s += v
				}
			}
			mean[ch] = s / float64(n*hw)
			ss := 0.0
			for i := range n {
				for _, v := range in[(i*c+ch)*hw : (i*c+ch+1)*hw] {
					ss += (v - mean[ch]) * (v - mean[ch])
				}
			}
			variance[ch] = ss / float64(n*hw)
		}
		name := compiler.BranchName(nd.Name, min(int(br), nd.Norm.Info().Branches-1))
		out[name] = [2][]float64{mean, variance}
	}
	return out
}

func snapshot(m nn.Model) map[string][2][]float32 {
	s := map[string][2][]float32{}
	for _, st := range m.NormState() {
		s[st.Name] = [2][]float32{slices.Clone(st.Mean), slices.Clone(st.Var)}
	}
	return s
}

func near(got float32, want, tol float64) bool {
	return math.Abs(float64(got)-want) <= tol*(1+math.Abs(want))
}

// Batch statistics are the per-channel mean and variance of each BN
// layer's input, computed here directly from the activations of a
// float64 reference forward, on the kernel path (width 16) and on ref's
// ops (width 4), for plain BN and both branches of MBN; the running
// statistics are reported as they are and left unchanged.
func TestBatchStatsMatchOracle(t *testing.T) {
	test := data.Synthetic(24, 1, 8, 8, 3, 2)
	for _, tc := range []struct {
		width int
		norm  string
	}{{16, "bn"}, {4, "bn"}, {16, "mbn"}, {4, "mbn"}} {
		m, g := tiny(t, tc.width, tc.norm)
		before := snapshot(m)
		r, err := Collect(m, test, Config{Batches: 1, Batch: 24})
		if err != nil {
			t.Fatal(err)
		}
		if !equalState(before, snapshot(m)) {
			t.Errorf("width %d %s: Collect changed the running statistics", tc.width, tc.norm)
		}
		x := nn.NewTensor(24, 1, 8, 8)
		test.Batch(seq(24), x.Data, make([]int, 24))
		want := oracle(t, m, g, x, nn.Clean)
		if tc.norm == "mbn" {
			for k, v := range oracle(t, m, g, x, nn.Adv) {
				want[k] = v
			}
		}
		if len(r.Layers) != len(m.NormState()) || len(r.Layers) != len(want) {
			t.Fatalf("width %d %s: %d layers reported, %d in NormState, %d in the oracle", tc.width, tc.norm, len(r.Layers), len(m.NormState()), len(want))
		}
		for _, l := range r.Layers {
			w, ok := want[l.Name()]
			if !ok {
				t.Fatalf("%s: not a norm layer of the graph", l.Name())
			}
			wantBranch := BranchBN
			if tc.norm == "mbn" {
				wantBranch = map[bool]string{false: BranchClean, true: BranchAdv}[strings.HasSuffix(l.Name(), ".adv")]
			}
			if l.Branch != wantBranch {
				t.Errorf("%s: branch %q, want %q", l.Name(), l.Branch, wantBranch)
			}
			run := before[l.Name()]
			if !slices.Equal(l.RunningMean, run[0]) || !slices.Equal(l.RunningVar, run[1]) {
				t.Errorf("%s: reported running statistics differ from NormState", l.Name())
			}
			for ch := range l.Channels {
				if !near(l.BatchMean[ch], w[0][ch], 1e-4) || !near(l.BatchVar[ch], w[1][ch], 1e-4) {
					t.Fatalf("width %d %s: %s channel %d: batch mean %g var %g, want %g %g", tc.width, tc.norm, l.Name(), ch, l.BatchMean[ch], l.BatchVar[ch], w[0][ch], w[1][ch])
				}
			}
		}
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func equalState(a, b map[string][2][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v[0], b[k][0]) || !slices.Equal(v[1], b[k][1]) {
			return false
		}
	}
	return true
}

// Several batches average the per-batch statistics weighted by batch
// size; adversarial images change them; neither touches the running
// statistics.
func TestBatchesAndAdversarial(t *testing.T) {
	m, _ := tiny(t, 16, "mbn")
	test := data.Synthetic(20, 1, 8, 8, 3, 3)
	before := snapshot(m)
	c := Config{Batches: 5, Batch: 8, Branches: []nn.Branch{nn.Adv}}
	r, err := Collect(m, test, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Batches != 3 || r.Images != 20 || r.Adversarial { // 8 + 8 + 4 images
		t.Errorf("batches %d, images %d, adversarial %v; want 3, 20, false", r.Batches, r.Images, r.Adversarial)
	}
	for _, l := range r.Layers {
		if l.Branch != BranchAdv {
			t.Errorf("%s: branch %s reported with Branches [adv]", l.Layer, l.Branch)
		}
	}
	// The weighted average of the three batches' statistics.
	var parts []*Report
	for _, lohi := range [][2]int{{0, 8}, {8, 16}, {16, 20}} {
		sub := &data.Dataset{Name: "part", C: 1, H: 8, W: 8, Classes: 3,
			Pixels: test.Pixels[lohi[0]*64 : lohi[1]*64], Labels: test.Labels[lohi[0]:lohi[1]]}
		p, err := Collect(m, sub, Config{Batches: 1, Batch: 8, Branches: c.Branches})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	for i, l := range r.Layers {
		for ch := range l.Channels {
			want := (8*float64(parts[0].Layers[i].BatchMean[ch]) + 8*float64(parts[1].Layers[i].BatchMean[ch]) + 4*float64(parts[2].Layers[i].BatchMean[ch])) / 20
			if !near(l.BatchMean[ch], want, 1e-5) {
				t.Fatalf("%s channel %d: mean over batches %g, want %g", l.Layer, ch, l.BatchMean[ch], want)
			}
		}
	}

	c.Adversarial = true
	c.Attack = pgd.Config{Eps: 0.3, Step: 0.1, Steps: 3, Loss: pgd.Targeted}
	c.Seed = 4
	adv, err := Collect(m, test, c)
	if err != nil {
		t.Fatal(err)
	}
	if !adv.Adversarial || adv.Attack == nil || adv.Attack.Steps != 3 || adv.Attack.Loss != "targeted" {
		t.Errorf("adversarial report: attack %+v", adv.Attack)
	}
	if slices.Equal(adv.Layers[0].BatchMean, r.Layers[0].BatchMean) {
		t.Errorf("%s: adversarial batch statistics equal the clean ones", adv.Layers[0].Layer)
	}
	again, err := Collect(m, test, c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Layers[0].BatchVar, adv.Layers[0].BatchVar) {
		t.Errorf("two collections with the same seed differ")
	}
	if !equalState(before, snapshot(m)) {
		t.Errorf("Collect changed the running statistics")
	}
}

func TestPrefixAndFormats(t *testing.T) {
	m, _ := tiny(t, 4, "mbn")
	all, err := Running(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	names := func(ls []Layer) (s []string) {
		for _, l := range ls {
			s = append(s, l.Name())
		}
		return s
	}
	var state []string
	for _, st := range m.NormState() {
		state = append(state, st.Name)
	}
	if !slices.Equal(names(all), state) {
		t.Errorf("all layers %v, want NormState's %v", names(all), state)
	}
	for prefix, want := range map[string][]string{
		"bn1":          {"bn1", "bn1.adv"},
		"layer1":       {"layer1.0.bn1", "layer1.0.bn1.adv", "layer1.0.bn2", "layer1.0.bn2.adv"},
		"layer2.0.":    {"layer2.0.bn1", "layer2.0.bn1.adv", "layer2.0.bn2", "layer2.0.bn2.adv", "layer2.0.downsample.1", "layer2.0.downsample.1.adv"},
		"layer1.0.bn2": {"layer1.0.bn2", "layer1.0.bn2.adv"},
	} {
		got, err := Running(m, Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(got), want) {
			t.Errorf("prefix %q: %v, want %v", prefix, names(got), want)
		}
	}
	if _, err := Running(m, Config{Prefix: "layer1.0.bn"}); err == nil || !strings.Contains(err.Error(), "layer1.0.bn1") {
		t.Errorf("a prefix that ends inside a name: %v, want an error listing the layers", err)
	}

	r, err := Collect(m, data.Synthetic(8, 1, 8, 8, 3, 1), Config{Prefix: "layer1.0.bn2", Batches: 1, Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+2*4 || strings.Join(rows[0], ",") != "layer,branch,channel,running_mean,running_var,batch_mean,batch_var" {
		t.Fatalf("CSV: %d rows, header %v", len(rows), rows[0])
	}
	if strings.Join(rows[5][:3], ",") != "layer1.0.bn2,adv,0" {
		t.Errorf("CSV row 5: %v", rows[5])
	}
	buf.Reset()
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 9+len(r.Layers) {
		t.Errorf("JSON has %d lines, want one per layer and field:\n%s", lines, buf.String())
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil || !slices.Equal(back.Layers[1].BatchVar, r.Layers[1].BatchVar) {
		t.Errorf("JSON round trip: %v", err)
	}
	buf.Reset()
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "layer1.0.bn2 [adv], 4 channels") || !strings.Contains(buf.String(), "batch_var") {
		t.Errorf("table:\n%s", buf.String())
	}
}

// TestTableSaysTheImages: a report over fewer test images than its batch
// size says how many there were (it read "1 batches of 100 clean test
// images (32 in all)").
func TestTableSaysTheImages(t *testing.T) {
	r := &Report{Model: "m", Data: "d", Batches: 1, Batch: 100, Images: 32,
		Layers: []Layer{{Layer: "bn1", Branch: "bn", Channels: 1, RunningMean: []float32{0}, RunningVar: []float32{1}, BatchMean: []float32{0}, BatchVar: []float32{1}}}}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if want := "batch statistics of 32 clean test images in 1 batch of up to 100 (d)"; !strings.Contains(b.String(), want) {
		t.Errorf("table heading:\n%s\nwant it to contain %q", b.String(), want)
	}
}
