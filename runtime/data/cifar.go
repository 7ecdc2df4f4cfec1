package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// A CIFAR-10 binary record is one label byte and 32x32 pixels for each of
// the red, green and blue planes.
const (
	cifarPixels = 3 * 32 * 32
	cifarRecord = 1 + cifarPixels
)

// loadCIFAR10 reads CIFAR-10 from the binary batches folder at path, from
// such a folder inside it (cifar-10-batches-bin), or from an ImageFolder tree
// of ten classes: a folder, or an archive (see splitArchive for how a split
// finds its archive).
func loadCIFAR10(path, split string) (*Dataset, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	if fi.IsDir() {
		for _, dir := range []string{path, filepath.Join(path, "cifar-10-batches-bin")} {
			if isBinaryCIFAR(dir) {
				if err := trainOrTest(split); err != nil {
					return nil, err
				}
				return loadCIFAR10Binary(dir, split)
			}
		}
	}
	archive, missing, err := splitArchive(path, split)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	d, err := loadImageFolder("cifar10", archive, split, 10)
	if err != nil && missing != "" {
		return nil, fmt.Errorf("%w; nor is there a %s archive %s beside it (or give cifar10:DIR, a folder holding one archive per split)", err, split, missing)
	}
	return d, err
}

// archiveExts are the file name endings of the tar archives an ImageFolder
// tree may come in.
var archiveExts = []string{".tar.gz", ".tgz", ".tar"}

// splitTokens cuts a file name, less its archive ending, into its words:
// "cifar10-train.tar.gz" is cifar10 and train.
func splitTokens(name string) (stem string, ext string, tokens []string) {
	stem = name
	for _, e := range archiveExts {
		if strings.HasSuffix(strings.ToLower(name), e) {
			stem, ext = name[:len(name)-len(e)], name[len(name)-len(e):]
			break
		}
	}
	tokens = strings.FieldsFunc(stem, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return stem, ext, tokens
}

// isSplitName reports whether a word of a file name names a split (train,
// test, val, validation), in any case.
func isSplitName(word string) bool { return slices.Contains(splitNames, strings.ToLower(word)) }

// splitArchive returns what to read for split of the ImageFolder source
// path:
//
//   - a folder with a split/ subfolder, or with no archive named for any
//     split: the folder itself;
//   - a folder with archives named for splits (cifar10-train.tar.gz,
//     cifar10-test.tar.gz; a word of the name is the split): the one
//     archive of split, or an error naming what it looked for;
//   - an archive named for another split (cifar10-train.tar.gz, asked for
//     test): its sibling named for split (cifar10-test.tar.gz) when that
//     exists; otherwise the archive itself, which may hold both splits,
//     and missing, the sibling it looked for, to explain a failure;
//   - any other file: itself.
func splitArchive(path, split string) (read, missing string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", "", err
	}
	if !fi.IsDir() {
		dir, name := filepath.Split(path)
		stem, ext, tokens := splitTokens(name)
		if ext == "" {
			return path, "", nil
		}
		for i := len(tokens) - 1; i >= 0; i-- {
			if !isSplitName(tokens[i]) {
				continue
			}
			if strings.EqualFold(tokens[i], split) {
				return path, "", nil
			}
			// The name with its last split word replaced.
			at := strings.LastIndex(stem, tokens[i])
			sibling := filepath.Join(dir, stem[:at]+split+stem[at+len(tokens[i]):]+ext)
			if sfi, err := os.Stat(sibling); err == nil && sfi.Mode().IsRegular() {
				return sibling, "", nil
			}
			return path, sibling, nil
		}
		return path, "", nil
	}
	if sfi, err := os.Stat(filepath.Join(path, split)); err == nil && sfi.IsDir() {
		return path, "", nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", "", err
	}
	var mine, others []string
	for _, e := range entries {
		_, ext, tokens := splitTokens(e.Name())
		if ext == "" || !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		switch {
		case slices.ContainsFunc(tokens, func(t string) bool { return strings.EqualFold(t, split) }):
			mine = append(mine, e.Name())
		case slices.ContainsFunc(tokens, isSplitName):
			others = append(others, e.Name())
		}
	}
	switch {
	case len(mine) == 1:
		return filepath.Join(path, mine[0]), "", nil
	case len(mine) > 1:
		return "", "", fmt.Errorf("%s: %d archives for the %s split (%s); keep one", path, len(mine), split, strings.Join(mine, ", "))
	case len(others) > 0:
		return "", "", fmt.Errorf("%s: no %s/ folder and no archive for the %s split (looked for a .tar.gz, .tgz or .tar with %q in its name; found %s)", path, split, split, split, strings.Join(others, ", "))
	}
	return path, "", nil
}

// isBinaryCIFAR reports whether dir holds CIFAR-10 binary batches.
func isBinaryCIFAR(dir string) bool {
	for _, name := range []string{"data_batch_1.bin", "test_batch.bin"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// loadCIFAR10Binary reads the batches of a split from the binary folder dir:
// data_batch_1.bin to data_batch_5.bin for train, test_batch.bin for test.
func loadCIFAR10Binary(dir, split string) (*Dataset, error) {
	names := []string{"test_batch.bin"}
	if split == "train" {
		names = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	}
	d := &Dataset{Name: "cifar10/" + split, C: 3, H: 32, W: 32, Classes: 10}
	for _, name := range names {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cifar10: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("cifar10: %s is not a regular file", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("cifar10: %w", err)
		}
		if err := appendCIFARBatch(d, p, b); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// appendCIFARBatch appends the records of the binary batch b, read from
// file name, to d; on an error d is left as it was.
func appendCIFARBatch(d *Dataset, name string, b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("cifar10: %s: empty file", name)
	}
	if len(b)%cifarRecord != 0 {
		return fmt.Errorf("cifar10: %s: size %d is not a multiple of the %d-byte record (truncated or not a CIFAR-10 binary batch)", name, len(b), cifarRecord)
	}
	n := len(b) / cifarRecord
	for i := range n {
		if l := b[i*cifarRecord]; l >= 10 {
			return fmt.Errorf("cifar10: %s: label %d of record %d is out of range 0..9", name, l, i)
		}
	}
	d.Pixels = slices.Grow(d.Pixels, n*cifarPixels)
	d.Labels = slices.Grow(d.Labels, n)
	for i := range n {
		rec := b[i*cifarRecord : (i+1)*cifarRecord]
		d.Labels = append(d.Labels, rec[0])
		d.Pixels = append(d.Pixels, rec[1:]...)
	}
	return nil
}
