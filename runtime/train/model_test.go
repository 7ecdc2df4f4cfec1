package train

import "testing"

func TestSameNetwork(t *testing.T) {
	a, b := mnistSpec(t), mnistSpec(t)
	b.File, b.Model = "other.spec", "other"
	if !SameNetwork(a, b) {
		t.Error("names count")
	}
	b.Width = 32
	if SameNetwork(a, b) {
		t.Error("width does not count")
	}
}
