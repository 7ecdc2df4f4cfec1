package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/netc/netc/generated/mnistresnet"
	"github.com/netc/netc/runtime/data"
)

// digits returns n images: the test digits with noise of their own each
// (pixels stay in [0,1]), so that the model's answers vary.
func digits(t *testing.T, n int) [][]float32 {
	files, _ := filepath.Glob("testdata/digit*.png")
	if len(files) == 0 {
		t.Fatal("no test images")
	}
	rng := rand.New(rand.NewPCG(11, 13))
	imgs := make([][]float32, n)
	for i := range imgs {
		img, err := data.ReadImage(files[i%len(files)], [3]int{mnistresnet.InputC, mnistresnet.InputH, mnistresnet.InputW})
		if err != nil {
			t.Fatal(err)
		}
		amp := float32(i%7) * 0.1
		for j := range img {
			img[j] = min(1, max(0, img[j]+amp*(2*rng.Float32()-1)))
		}
		imgs[i] = img
	}
	return imgs
}

// answer is one image's class and probabilities.
type answer struct {
	class int
	probs []float32
}

func (a answer) equal(b answer) bool { return a.class == b.class && slices.Equal(a.probs, b.probs) }

func (a answer) String() string { return fmt.Sprintf("class %d, p = %v", a.class, a.probs) }

// TestPredictIsSafeForConcurrentUse classifies the same images on 8
// goroutines at once, each in its own order, and wants every answer
// bitwise equal to the serial one (run it with -race too).
func TestPredictIsSafeForConcurrentUse(t *testing.T) {
	m, err := mnistresnet.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := 200
	if testing.Short() {
		n = 64
	}
	imgs := digits(t, n)
	serial := make([]answer, len(imgs))
	for i, img := range imgs {
		serial[i].class, serial[i].probs = m.Predict(img)
	}
	const goroutines = 8
	var wg sync.WaitGroup
	got := make([][]answer, goroutines)
	for g := range goroutines {
		got[g] = make([]answer, len(imgs))
		wg.Go(func() {
			for k := range imgs {
				i := (k + g*len(imgs)/goroutines) % len(imgs)
				got[g][i].class, got[g][i].probs = m.Predict(imgs[i])
			}
		})
	}
	wg.Wait()
	for g := range got {
		wrong := 0
		for i, a := range got[g] {
			if !a.equal(serial[i]) {
				if wrong == 0 {
					t.Errorf("goroutine %d, image %d: %v, serially %v", g, i, a, serial[i])
				}
				wrong++
			}
		}
		if wrong > 0 {
			t.Errorf("goroutine %d: %d of %d answers differ from the serial ones", g, wrong, len(imgs))
		}
	}
}

// TestPredictBatchEqualsPredict classifies more images than one pass
// takes, in one PredictBatch call, and wants each answer bitwise equal
// to Predict's.
func TestPredictBatchEqualsPredict(t *testing.T) {
	m, err := mnistresnet.Load()
	if err != nil {
		t.Fatal(err)
	}
	imgs := digits(t, mnistresnet.PredictBatchSize+3)
	classes, probs := m.PredictBatch(imgs)
	if len(classes) != len(imgs) || len(probs) != len(imgs) {
		t.Fatalf("%d classes and %d probability vectors for %d images", len(classes), len(probs), len(imgs))
	}
	for i, img := range imgs {
		var want answer
		want.class, want.probs = m.Predict(img)
		if got := (answer{classes[i], probs[i]}); !got.equal(want) {
			t.Errorf("image %d: PredictBatch says %v, Predict %v", i, got, want)
		}
	}
	if c, p := m.PredictBatch(nil); len(c) != 0 || len(p) != 0 {
		t.Errorf("no images: %v, %v", c, p)
	}
}
