package data

import "math/rand/v2"

// Synthetic returns n noisy C×H×W images of classes 0..classes-1, image i
// of class i%classes: a bright square at a grid position of its own on a dark
// noisy background. It is a quick, learnable set for tests and benchmarks.
func Synthetic(n, c, h, w, classes int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 0x73796e74))
	d := &Dataset{Name: "synthetic", C: c, H: h, W: w, Classes: classes,
		Pixels: make([]uint8, n*c*h*w), Labels: make([]uint8, n)}
	g := 1 // classes sit on a g×g grid of squares
	for g*g < classes {
		g++
	}
	side := max(1, min(h, w)/g)
	for i := range n {
		k := i % classes
		d.Labels[i] = uint8(k)
		oy := (k / g) * (h - side) / max(1, g-1)
		ox := (k % g) * (w - side) / max(1, g-1)
		img := d.Pixels[i*c*h*w : (i+1)*c*h*w]
		for ch := range c {
			for y := range h {
				for x := range w {
					v := rng.IntN(60)
					if y >= oy && y < oy+side && x >= ox && x < ox+side {
						v = 150 + rng.IntN(100)
					}
					img[(ch*h+y)*w+x] = uint8(v)
				}
			}
		}
	}
	return d
}
