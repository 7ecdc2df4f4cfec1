package main

import (
	"math"
	"testing"
)

func TestFiguresAndCompare(t *testing.T) {
	kern := `{"isa":"avx512","peak_gflops":{"1":100},"kernels":[{"net":"resnet20","layer":"conv1","op":"fwd","batch":32,"threads":1,"gflops":50}]}`
	f, err := figures([]byte(kern))
	if err != nil || len(f) != 1 || f["resnet20/conv1/fwd/32/1"] != 50 {
		t.Fatalf("kernels figures %v, %v", f, err)
	}
	model := `{"model":"m","batch":128,"threads":2,"isa":"avx512","inference":1000,"train_step":300}`
	f, err = figures([]byte(model))
	if err != nil || len(f) != 2 || f["train_step"] != 300 {
		t.Fatalf("model figures %v, %v", f, err)
	}
	a := []map[string]float64{{"x": 10}, {"x": 30}, {"x": 20}}
	b := []map[string]float64{{"x": 22}, {"x": 18}, {"x": 100}}
	rep, err := compare(a, b)
	if err != nil || len(rep.Figures) != 1 || rep.Figures[0].A != 20 || rep.Figures[0].B != 22 || math.Abs(rep.GeoMean-1.1) > 1e-12 {
		t.Fatalf("compare: %+v, %v", rep, err)
	}
	if _, err := compare(a, []map[string]float64{{"y": 1}, {"y": 1}, {"y": 1}}); err == nil {
		t.Fatal("compare of different figures: no error")
	}
	if _, err := figures([]byte("not json")); err == nil {
		t.Fatal("figures of non-JSON: no error")
	}
}
