package data

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/netc/netc/runtime/ref"
)

// Bounds on what an ImageFolder tree may ask of memory, checked before
// anything is allocated: a corrupt header or a bomb gets an error, not a
// huge allocation.
const (
	maxSide      = 8192    // an image's width or height, spec.MaxInputSize
	maxImageFile = 1 << 28 // bytes of one image file
	maxDataBytes = 1 << 40 // bytes of a data set's pixels
)

// maxClasses is the number of classes a Dataset's uint8 labels can hold.
const maxClasses = 256

// splitNames are folder names that mark a tree as split into train/test
// parts; used to catch a request for a split the tree does not have.
var splitNames = []string{"train", "test", "val", "validation"}

// entry is one image file, or folder, of an ImageFolder tree.
type entry struct {
	name  string // slash-separated path inside the tree, e.g. "train/cat/0001.jpg"
	class string
	file  string // file to read, for a folder tree
	data  []byte // contents, for an archive
	dir   bool   // a folder, not an image
}

// loadImageFolder reads the split of the ImageFolder tree at path: a folder,
// a .tar or a .tar.gz whose images are <split>/<class>/<file>, or
// <class>/<file> when the tree has no <split>/ folder. kind names the source
// in errors and in the Dataset's name; wantClasses, if not zero, is the
// number of classes the tree must have.
func loadImageFolder(kind, path, split string, wantClasses int) (*Dataset, error) {
	entries, classes, err := listImageFolder(kind, path, split, wantClasses, true)
	if err != nil {
		return nil, err
	}
	entries, labels := interleave(entries, classes)
	d, err := decodeAll(path, entries)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	d.Name = kind + "/" + split
	d.Path = path
	d.Classes = len(classes)
	d.ClassNames = classes
	d.Labels = labels
	return d, nil
}

// listImageFolder lists the images of the split of the ImageFolder tree at
// path, sorted by name, with its sorted class names, reading the images of
// an archive only if withData is set; kind and wantClasses are
// loadImageFolder's.
func listImageFolder(kind, path, split string, wantClasses int, withData bool) ([]entry, []string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kind, err)
	}
	var all []entry
	if fi.IsDir() {
		all, err = folderEntries(path, split)
	} else {
		all, err = tarEntries(path, split, withData)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kind, err)
	}
	entries, err := selectSplit(path, split, all)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kind, err)
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	var classes []string
	for _, e := range entries {
		classes = append(classes, e.class)
	}
	slices.Sort(classes)
	classes = slices.Compact(classes)
	switch {
	case wantClasses > 0 && len(classes) != wantClasses:
		return nil, nil, fmt.Errorf("%s: %s: %d class folders, want %d", kind, path, len(classes), wantClasses)
	case len(classes) > maxClasses:
		return nil, nil, fmt.Errorf("%s: %s: %d class folders; at most %d are supported for now", kind, path, len(classes), maxClasses)
	}
	return entries, classes, nil
}

// interleave orders entries, sorted by name and so class by class, as the
// first image of each class, then the second of each, and so on, so that
// the first N images (what --limit takes) hold every class evenly, as far
// as each has images.
// It returns them with their labels, indices into classes.
func interleave(entries []entry, classes []string) ([]entry, []uint8) {
	byClass := make([][]entry, len(classes))
	for _, e := range entries {
		c, _ := slices.BinarySearch(classes, e.class)
		byClass[c] = append(byClass[c], e)
	}
	out, labels := make([]entry, 0, len(entries)), make([]uint8, 0, len(entries))
	for i := 0; len(out) < len(entries); i++ {
		for c, es := range byClass {
			if i < len(es) {
				out, labels = append(out, es[i]), append(labels, uint8(c))
			}
		}
	}
	return out, labels
}

// isImage reports whether name is a JPEG or PNG file, not hidden.
func isImage(name string) bool {
	if strings.HasPrefix(path.Base(name), ".") {
		return false
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// hidden reports whether a slash-separated path has a component starting
// with a dot.
func hidden(name string) bool {
	for c := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(c, ".") {
			return true
		}
	}
	return false
}

// folderEntries lists the images and folders under the folder root: only
// those under root/split when that folder has images in class folders.
func folderEntries(root, split string) ([]entry, error) {
	if fi, err := os.Stat(filepath.Join(root, split)); err == nil && fi.IsDir() {
		entries, err := walkEntries(root, filepath.Join(root, split))
		for _, e := range entries {
			if !e.dir && strings.Count(e.name, "/") >= 2 { // split/<class>/...
				return entries, err
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return walkEntries(root, root)
}

// walkEntries lists the images and folders under walk, a folder of the
// tree at root, skipping hidden ones.
func walkEntries(root, walk string) ([]entry, error) {
	var entries []entry
	err := filepath.WalkDir(walk, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir() && rel == ".":
		case d.IsDir() && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case d.IsDir():
			entries = append(entries, entry{name: rel, dir: true})
		case d.Type()&fs.ModeSymlink != 0 && !hidden(rel):
			// WalkDir does not follow links: a linked class folder
			// would vanish from the data set without a word.
			fi, err := os.Stat(p)
			switch {
			case err == nil && fi.IsDir():
				return fmt.Errorf("%s: entry %s is a symbolic link to a folder, which netc does not follow: link the images one by one, or copy the folder", root, rel)
			case err == nil && isImage(rel) && !fi.Mode().IsRegular():
				return fmt.Errorf("%s: entry %s links to something that is not a regular file (%v)", root, rel, fi.Mode().Type())
			}
			if isImage(rel) {
				entries = append(entries, entry{name: rel, file: p})
			}
		case isImage(rel) && !d.Type().IsRegular():
			// A named pipe or a device would block the reader or never end.
			return fmt.Errorf("%s: entry %s is not a regular file (%v)", root, rel, d.Type())
		case isImage(rel):
			entries = append(entries, entry{name: rel, file: p})
		}
		return nil
	})
	return entries, err
}

// tarEntries reads the images of the tar archive at name, gzip'd or not,
// and lists its folders; without withData it lists the images only. Once
// it has seen an image under split/, it keeps only those.
func tarEntries(name, split string, withData bool) ([]entry, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(1 << 20) // read big archives in large pieces, small ones at once
	if fi, err := f.Stat(); err == nil {
		size = min(size, fi.Size())
	}
	br := bufio.NewReaderSize(f, int(size))
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	var in, out, dirs []entry
	seen := false // whether the archive has a valid header
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			switch {
			case err == io.ErrUnexpectedEOF && !seen:
				err = fmt.Errorf("not a tar archive, or truncated")
			case err == io.ErrUnexpectedEOF:
				err = fmt.Errorf("archive is truncated")
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		seen = true
		clean := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if hdr.Typeflag == tar.TypeDir && clean != "" && !hidden(clean) {
			dirs = append(dirs, entry{name: clean, dir: true})
			continue
		}
		if !isImage(clean) || hidden(clean) {
			continue
		}
		if !hdr.FileInfo().Mode().IsRegular() {
			// A link or device named as an image: the image is not in
			// the archive, and leaving it out would change its class.
			return nil, fmt.Errorf("%s: entry %s is named as an image but is not a regular file (%v)", name, hdr.Name, hdr.FileInfo().Mode().Type())
		}
		matches := strings.HasPrefix(clean, split+"/") && strings.Count(clean, "/") >= 2 // split/<class>/...
		if !matches && len(in) > 0 {
			continue
		}
		if hdr.Size > maxImageFile {
			return nil, fmt.Errorf("%s: entry %s: %d bytes, more than the %d MiB an image file may have", name, hdr.Name, hdr.Size, maxImageFile>>20)
		}
		var b []byte
		if withData {
			if b, err = io.ReadAll(tr); err != nil {
				if err == io.ErrUnexpectedEOF {
					err = fmt.Errorf("archive is truncated")
				}
				return nil, fmt.Errorf("%s: entry %s: %w", name, hdr.Name, err)
			}
		}
		e := entry{name: clean, data: b}
		if matches {
			in = append(in, e)
			out = nil
		} else {
			out = append(out, e)
		}
	}
	if len(in) > 0 {
		return append(in, dirs...), nil
	}
	return append(out, dirs...), nil
}

// errNoSplit is the error of a tree divided into splits, but not into the
// one asked for.
var errNoSplit = errors.New("no such split")

// selectSplit keeps the images of split from all and sets their classes:
// the images split/<class>/..., or, when there are none, every
// <class>/... image. It fails if the tree is divided into splits but not
// into this one (errNoSplit), or if a class folder (a folder of all, at
// the level of the classes) has no images.
func selectSplit(root, split string, all []entry) ([]entry, error) {
	var in, out []entry
	var others []string
	var inDirs, outDirs []string // the class folders, split/<class> and <class>
	for _, e := range all {
		parts := strings.Split(e.name, "/")
		if e.dir {
			switch {
			case len(parts) == 2 && parts[0] == split:
				inDirs = append(inDirs, e.name)
			case len(parts) == 1:
				outDirs = append(outDirs, e.name)
			}
			continue
		}
		switch {
		case len(parts) >= 3 && parts[0] == split:
			e.class = parts[1]
			in = append(in, e)
		case len(parts) >= 2:
			e.class = parts[0]
			out = append(out, e)
			if len(parts) >= 3 && slices.Contains(splitNames, parts[0]) && !slices.Contains(others, parts[0]) {
				others = append(others, parts[0])
			}
		}
	}
	switch {
	case len(in) > 0:
		return in, noEmptyClass(root, in, inDirs)
	case len(others) > 0:
		return nil, fmt.Errorf("%s: no images under %s/ (the tree has %s/): %w", root, split, strings.Join(others, "/, "), errNoSplit)
	case len(out) == 0:
		return nil, fmt.Errorf("%s: no images (want <split>/<class>/<image>.jpg or .png, or <class>/<image>)", root)
	}
	return out, noEmptyClass(root, out, outDirs)
}

// noEmptyClass fails if a class folder in dirs holds none of the images.
func noEmptyClass(root string, images []entry, dirs []string) error {
	has := map[string]bool{}
	for _, e := range images {
		has[e.class] = true
	}
	for _, d := range dirs {
		if !has[path.Base(d)] {
			return fmt.Errorf("%s: class folder %s/ has no images (a class needs at least one .jpg or .png)", root, d)
		}
	}
	return nil
}

// decodeAll decodes the images of entries in parallel into one Dataset
// (pixels and sizes only). Every image must have the size of the first.
func decodeAll(root string, entries []entry) (*Dataset, error) {
	b, err := readEntry(root, entries[0])
	if err != nil {
		return nil, err
	}
	size, err := imageSize(root, entries[0], b)
	if err != nil {
		return nil, err
	}
	n := 3 * size.X * size.Y
	if len(entries) > maxDataBytes/n {
		return nil, fmt.Errorf("%s: %d images of %dx%d need more than the %d GiB of pixels a data set may have", root, len(entries), size.X, size.Y, maxDataBytes>>30)
	}
	d := &Dataset{C: 3, H: size.Y, W: size.X, Pixels: make([]uint8, len(entries)*n)}

	// Workers take indices in increasing order and stop taking new ones
	// after a failure, so every index below a failing one is decoded and
	// the error reported is always that of the first bad entry. A panic
	// on a worker is raised again here.
	var (
		next     atomic.Int64
		failed   atomic.Bool
		mu       sync.Mutex
		errAt    = len(entries)
		wg       sync.WaitGroup
		panicked atomic.Pointer[ref.Panic]
	)
	for range min(runtime.GOMAXPROCS(0), len(entries)) {
		wg.Go(func() {
			defer ref.CatchPanic(&panicked)
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(entries) {
					return
				}
				img, e := decodeEntry(root, entries[i], size)
				if e == nil {
					toCHW(img, d.Pixels[i*n:(i+1)*n])
					continue
				}
				failed.Store(true)
				mu.Lock()
				if i < errAt {
					errAt, err = i, e
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	ref.Repanic(&panicked)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// readEntry returns the bytes of e's image file, at most maxImageFile.
func readEntry(root string, e entry) ([]byte, error) {
	if e.file == "" {
		return e.data, nil
	}
	f, err := os.Open(e.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxImageFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: entry %s: %w", root, e.name, err)
	}
	if len(b) > maxImageFile {
		return nil, fmt.Errorf("%s: entry %s: more than the %d MiB an image file may have", root, e.name, maxImageFile>>20)
	}
	return b, nil
}

// imageSize reads the size of e's image b from its header, which it checks
// against the bounds before anything decodes the image.
func imageSize(root string, e entry, b []byte) (image.Point, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return image.Point{}, fmt.Errorf("%s: entry %s: bad image: %w", root, e.name, err)
	}
	if w, h := cfg.Width, cfg.Height; w <= 0 || h <= 0 || w > maxSide || h > maxSide {
		return image.Point{}, fmt.Errorf("%s: entry %s: image size %dx%d is outside 1x1 to %dx%d", root, e.name, w, h, maxSide, maxSide)
	}
	return image.Pt(cfg.Width, cfg.Height), nil
}

// decodeEntry reads and decodes the image of e, which must have the given
// size.
func decodeEntry(root string, e entry, size image.Point) (image.Image, error) {
	b, err := readEntry(root, e)
	if err != nil {
		return nil, err
	}
	got, err := imageSize(root, e, b)
	if err != nil {
		return nil, err
	}
	if got != size {
		return nil, fmt.Errorf("%s: entry %s is %dx%d, not %dx%d like the first image; images must all have one size for now", root, e.name, got.X, got.Y, size.X, size.Y)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: entry %s: bad image: %w", root, e.name, err)
	}
	if img.Bounds().Size() != got {
		return nil, fmt.Errorf("%s: entry %s: decoded size differs from header", root, e.name)
	}
	return img, nil
}

// toCHW writes img as 8-bit red, green and blue planes into dst, dropping
// any alpha channel.
func toCHW(img image.Image, dst []uint8) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	r, g, bl := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				k := y*w + x
				r[k], g[k], bl[k] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			copy(r[y*w:], row)
			copy(g[y*w:], row)
			copy(bl[y*w:], row)
		}
	case *image.NRGBA:
		rgba(m.Pix, m.Stride, w, h, r, g, bl)
	case *image.RGBA:
		// Decoders return RGBA only for opaque images, where it equals NRGBA.
		rgba(m.Pix, m.Stride, w, h, r, g, bl)
	default:
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				k := y*w + x
				r[k], g[k], bl[k] = c.R, c.G, c.B
			}
		}
	}
}

// rgba splits 4-byte RGBA pixels with the given row stride into planes.
func rgba(pix []uint8, stride, w, h int, r, g, b []uint8) {
	for y := range h {
		row := pix[y*stride : y*stride+4*w]
		for x := range w {
			k := y*w + x
			r[k], g[k], b[k] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}
