package data

import (
	"strings"
	"testing"

	"github.com/netc/netc/spec"
)

// TestCompatible: a data set must have the spec's input shape and its
// number of classes exactly (the trainer once sized its loss by the
// data's count and panicked), and splits the same classes.
func TestCompatible(t *testing.T) {
	s, err := spec.Parse("mnist.spec", []byte("model m\ninput 1 28 28\nclasses 10\nstem cifar\nblock basic\nstages 1 1 1\nwidth 16\n"))
	if err != nil {
		t.Fatal(err)
	}
	set := func(classes int, names ...string) *Dataset {
		return &Dataset{Name: "d/train", Path: "d", C: 1, H: 28, W: 28, Classes: classes, ClassNames: names}
	}
	ten := strings.Split("0 1 2 3 4 5 6 7 8 9", " ")
	if err := Compatible(s, set(10), set(10, ten...)); err != nil {
		t.Error(err)
	}
	other := append(append([]string{}, ten[:9]...), "x")
	for _, tt := range []struct {
		sets []*Dataset
		want string
	}{
		{[]*Dataset{set(9)}, "d/train (d): 9 classes but " + s.File + " has classes 10; they must be equal"},
		{[]*Dataset{set(11)}, "11 classes but"},
		{[]*Dataset{set(10, ten...), set(10, other...)}, `class "9" is in d/train (d) but not in d/train (d)`},
		{[]*Dataset{{Name: "d", C: 3, H: 28, W: 28, Classes: 10}}, "images are 3x28x28 but " + s.File + " expects input 1 28 28"},
	} {
		if err := Compatible(s, tt.sets...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compatible: %v, want an error containing %q", err, tt.want)
		}
	}
}

// TestReadImage: a file that is no PNG image is an error naming it.
func TestReadImage(t *testing.T) {
	if _, err := ReadImage("fit_test.go", [3]int{1, 28, 28}); err == nil || !strings.Contains(err.Error(), "fit_test.go") {
		t.Errorf("ReadImage(fit_test.go): %v, want an error naming the file", err)
	}
}
