package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// A CIFAR-10 binary record is one label byte and 32x32 pixels for each of
// the red, green and blue planes.
const (
	cifarPixels = 3 * 32 * 32
	cifarRecord = 1 + cifarPixels
)

// loadCIFAR10 reads CIFAR-10 from the binary batches folder at path, from
// such a folder inside it (cifar-10-batches-bin), or from an ImageFolder tree
// of ten classes.
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
	return loadImageFolder("cifar10", path, split, 10)
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
