package data

import (
	"fmt"

	"github.com/netc/netc/spec"
)

// Compatible checks that data sets fit a spec: images of its input
// shape, exactly its number of classes (the loss and the accuracy count
// the spec's logits, one per class of the data), and, for the splits of
// one data set, the same classes (see SameClasses).
func Compatible(s *spec.Spec, sets ...*Dataset) error {
	for i, d := range sets {
		if d.C != s.Input[0] || d.H != s.Input[1] || d.W != s.Input[2] {
			return fmt.Errorf("%s: images are %dx%dx%d but %s expects input %d %d %d", d, d.C, d.H, d.W, s.File, s.Input[0], s.Input[1], s.Input[2])
		}
		if d.Classes != s.Classes {
			return fmt.Errorf("%s: %d classes but %s has classes %d; they must be equal", d, d.Classes, s.File, s.Classes)
		}
		if i > 0 {
			if err := SameClasses(sets[0], d); err != nil {
				return err
			}
		}
	}
	return nil
}

// LoadTest loads the test split of source for a model of spec s: it must
// fit s (Compatible) and label the classes of source's training split
// (MatchSplit), the ones such a model was trained on.
func LoadTest(s *spec.Spec, source string) (*Dataset, error) {
	test, err := Load(source, "test")
	if err != nil {
		return nil, err
	}
	if err := Compatible(s, test); err != nil {
		return nil, err
	}
	if err := test.MatchSplit(source, "train"); err != nil {
		return nil, err
	}
	return test, nil
}
