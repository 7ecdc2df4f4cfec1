package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/data"
)

// TestCompatible: a data set must have the spec's input shape and its
// number of classes exactly (the trainer once sized its loss by the
// data's count and panicked), and splits the same classes.
func TestCompatible(t *testing.T) {
	s := defaultSpec(t) // 1x28x28, 10 classes
	set := func(classes int, names ...string) *data.Dataset {
		return &data.Dataset{Name: "d/train", Path: "d", C: 1, H: 28, W: 28, Classes: classes, ClassNames: names}
	}
	ten := strings.Split("0 1 2 3 4 5 6 7 8 9", " ")
	if err := Compatible(s, set(10), set(10, ten...)); err != nil {
		t.Error(err)
	}
	other := append(append([]string{}, ten[:9]...), "x")
	for _, tt := range []struct {
		sets []*data.Dataset
		want string
	}{
		{[]*data.Dataset{set(9)}, "d/train (d): 9 classes but " + s.File + " has classes 10; they must be equal"},
		{[]*data.Dataset{set(11)}, "11 classes but"},
		{[]*data.Dataset{set(10, ten...), set(10, other...)}, `class "9" is in d/train (d) but not in d/train (d)`},
		{[]*data.Dataset{{Name: "d", C: 3, H: 28, W: 28, Classes: 10}}, "images are 3x28x28 but " + s.File + " expects input 1 28 28"},
	} {
		if err := Compatible(s, tt.sets...); !errors.As(err, new(BadInput)) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compatible: %v, want a bad-input error containing %q", err, tt.want)
		}
	}
}
