package data

import (
	"fmt"
	"image"
	_ "image/png" // the format ReadImage takes
	"os"
)

// ReadImage reads a PNG image of the input size shape (channels,
// height, width) as pixels in [0,1], channel-major: gray for one
// channel, RGB for three. Its errors name the file.
func ReadImage(path string, shape [3]int) ([]float32, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, h, w := shape[0], shape[1], shape[2]
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != h {
		return nil, fmt.Errorf("%s: image is %dx%d, the model takes %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("%s: the model takes %d channels; PNG input gives 1 or 3", path, c)
	}
	out := make([]float32, c*h*w)
	for yy := range h {
		for xx := range w {
			r16, g16, b16, _ := img.At(b.Min.X+xx, b.Min.Y+yy).RGBA()
			rgb := [3]float32{float32(r16) / 65535, float32(g16) / 65535, float32(b16) / 65535}
			if c == 1 {
				out[yy*w+xx] = 0.299*rgb[0] + 0.587*rgb[1] + 0.114*rgb[2]
				continue
			}
			for ch := range 3 {
				out[(ch*h+yy)*w+xx] = rgb[ch]
			}
		}
	}
	return out, nil
}
