package eval

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/runtime/pgd"
)

// TestAttackImages: one outcome per image, in order, robust only if
// right clean and at every iterate (the seesaw's image of pixel 128,
// started clean, is right clean and at the last of 2 iterates, wrong at
// the first); and
// infinite logits stop the attack with the image, the pass and the layer
// the locator names (the attack command used to say only that netc eval
// --interp could name it).
func TestAttackImages(t *testing.T) {
	m, att := seesawCase()
	att.Steps, att.CleanStart = 2, 1 // start at the clean image: 1, then 0, then 1
	d := onePixel([]uint8{10, 128, 20}, []uint8{0, 1, 0})
	var got []ImageAttack
	a := pgd.New(att, rand.New(rand.NewPCG(1, 1)))
	err := AttackImages(m, d, a, 3, 2, nil, func(r ImageAttack) error { got = append(got, r); return nil })
	if err != nil || len(got) != 3 {
		t.Fatalf("AttackImages: %v, %d outcomes; want 3", err, len(got))
	}
	if r := got[1]; r.Index != 1 || r.Label != 1 || r.Clean != 1 || r.Adversarial != 1 || r.Robust || r.Linf > att.Eps+1e-6 {
		t.Errorf("the image of pixel 128: %+v, want right clean and at the last iterate, not robust, within eps", r)
	}
	m.inf = 0.65 // iterate 2 of the image of pixel 128 is 128/255 + 0.2
	locator := func(nn.Model, *nn.Tensor, nn.Mode) (string, error) { return "layer seesaw.cut", nil }
	err = AttackImages(m, d, pgd.New(att, rand.New(rand.NewPCG(1, 1))), 3, 3, locator, func(ImageAttack) error { return nil })
	var bad *NonFiniteError
	if !errors.As(err, &bad) || bad.Image != 1 || bad.Pass != "PGD iterate 2" || !strings.Contains(err.Error(), "layer seesaw.cut") {
		t.Errorf("infinite logits at iterate 2: %v", err)
	}
}
