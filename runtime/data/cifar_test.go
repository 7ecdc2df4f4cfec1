package data

import (
	"archive/tar"
	"bytes"
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cifarBatch returns a binary batch with one record per label; record i's
// pixels count up from start+i.
func cifarBatch(start int, labels ...byte) []byte {
	var b []byte
	for i, l := range labels {
		b = append(b, l)
		b = append(b, seq(start+i, cifarPixels)...)
	}
	return b
}

func TestCIFAR10Binary(t *testing.T) {
	good := func(dir string) {
		for i := 1; i <= 5; i++ {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)), cifarBatch(10*i, byte(i), byte(i+1)))
		}
		writeFile(t, filepath.Join(dir, "test_batch.bin"), cifarBatch(0, 9))
	}
	tests := []struct {
		name    string
		sub     string // folder inside the source path holding the batches
		split   string
		corrupt func(dir string) // breaks a good folder
		wantErr string           // substring; the error must also name errFile
		errFile string
	}{
		{name: "train", split: "train"},
		{name: "test", split: "test"},
		{name: "nested folder", sub: "cifar-10-batches-bin", split: "train"},
		{name: "truncated", split: "train", corrupt: func(dir string) {
			p := filepath.Join(dir, "data_batch_3.bin")
			b, _ := os.ReadFile(p)
			writeFile(t, p, b[:len(b)-1])
		}, wantErr: "multiple", errFile: "data_batch_3.bin"},
		{name: "empty", split: "test", corrupt: func(dir string) {
			writeFile(t, filepath.Join(dir, "test_batch.bin"), nil)
		}, wantErr: "empty", errFile: "test_batch.bin"},
		{name: "bad label", split: "test", corrupt: func(dir string) {
			writeFile(t, filepath.Join(dir, "test_batch.bin"), cifarBatch(0, 3, 10))
		}, wantErr: "out of range", errFile: "test_batch.bin"},
		{name: "missing batch", split: "train", corrupt: func(dir string) {
			os.Remove(filepath.Join(dir, "data_batch_5.bin"))
		}, wantErr: "no such file", errFile: "data_batch_5.bin"},
		{name: "bad split", split: "val", wantErr: "bad split"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, tt.sub)
			good(dir)
			if tt.corrupt != nil {
				tt.corrupt(dir)
			}
			d, err := Load("cifar10:"+root, tt.split)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.errFile) {
					t.Fatalf("Load error %v, want one containing %q and naming %q", err, tt.wantErr, tt.errFile)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var labels, pixels []byte
			if tt.split == "train" {
				for i := 1; i <= 5; i++ {
					labels = append(labels, byte(i), byte(i+1))
					pixels = append(pixels, seq(10*i, cifarPixels)...)
					pixels = append(pixels, seq(10*i+1, cifarPixels)...)
				}
			} else {
				labels, pixels = []byte{9}, seq(0, cifarPixels)
			}
			if d.Name != "cifar10/"+tt.split || d.C != 3 || d.H != 32 || d.W != 32 || d.Classes != 10 {
				t.Fatalf("got %s %dx%dx%d classes %d", d.Name, d.C, d.H, d.W, d.Classes)
			}
			if !bytes.Equal(d.Labels, labels) || !bytes.Equal(d.Pixels, pixels) {
				t.Fatalf("labels %v, want %v (or pixels differ)", d.Labels, labels)
			}
		})
	}
}

// testImage returns a w x h image whose pixels encode seed, x and y.
func testImage(seed, w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(seed), uint8(10*x + y), uint8(200 - seed), 128})
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// file is an entry of a synthetic ImageFolder tree.
type file struct {
	name string
	data []byte
}

// writeTree writes files as a folder, a .tar and a .tar.gz under dir and
// returns their paths.
func writeTree(t testing.TB, dir string, files []file) (folder, tarPath, tgzPath string) {
	folder = filepath.Join(dir, "tree")
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, f := range files {
		writeFile(t, filepath.Join(folder, filepath.FromSlash(f.name)), f.data)
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	tarPath = filepath.Join(dir, "tree.tar")
	tgzPath = filepath.Join(dir, "tree.tar.gz")
	writeFile(t, tarPath, tarBuf.Bytes())
	writeFile(t, tgzPath, gz(tarBuf.Bytes()))
	return folder, tarPath, tgzPath
}

// wantPlanes returns the CHW planes of a testImage.
func wantPlanes(seed, w, h int) []byte {
	m := testImage(seed, w, h)
	var p []byte
	for c := range 3 {
		for y := range h {
			for x := range w {
				p = append(p, m.Pix[m.PixOffset(x, y)+c])
			}
		}
	}
	return p
}

func TestImageFolder(t *testing.T) {
	const w, h = 3, 2
	// Written out of order, with a split the loads below do not ask for,
	// a hidden file and a text file, which the loader must skip.
	files := []file{
		{"test/dog/b.png", encodePNG(t, testImage(4, w, h))},
		{"test/cat/z.png", encodePNG(t, testImage(2, w, h))},
		{"test/cat/a.png", encodePNG(t, testImage(1, w, h))},
		{"test/dog/a.png", encodePNG(t, testImage(3, w, h))},
		{"test/dog/._a.png", []byte("AppleDouble junk")},
		{"test/README.txt", []byte("not an image")},
		{"train/cat/a.png", encodePNG(t, testImage(5, w, h))},
		{"train/bird/a.png", encodePNG(t, testImage(6, w, h))},
		{"train/bird/b.png", encodePNG(t, testImage(7, w, h))},
		{"train/eel/a.png", encodePNG(t, testImage(8, w, h))},
	}
	folder, tarPath, tgzPath := writeTree(t, t.TempDir(), files)
	for _, path := range []string{folder, tarPath, tgzPath} {
		for _, tt := range []struct {
			split   string
			classes int
			labels  []byte
			seeds   []int
		}{
			// Interleaved by class: every prefix holds each class.
			{"test", 2, []byte{0, 1, 0, 1}, []int{1, 3, 2, 4}},
			{"train", 3, []byte{0, 1, 2, 0}, []int{6, 5, 8, 7}},
		} {
			t.Run(filepath.Base(path)+"/"+tt.split, func(t *testing.T) {
				d, err := Load("imagefolder:"+path, tt.split)
				if err != nil {
					t.Fatal(err)
				}
				if d.Name != "imagefolder/"+tt.split || d.C != 3 || d.H != h || d.W != w || d.Classes != tt.classes {
					t.Fatalf("got %s %dx%dx%d classes %d, want 3x%dx%d classes %d", d.Name, d.C, d.H, d.W, d.Classes, h, w, tt.classes)
				}
				if !bytes.Equal(d.Labels, tt.labels) {
					t.Fatalf("labels %v, want %v", d.Labels, tt.labels)
				}
				var pixels []byte
				for _, s := range tt.seeds {
					pixels = append(pixels, wantPlanes(s, w, h)...)
				}
				if !bytes.Equal(d.Pixels, pixels) {
					t.Fatalf("pixels %v, want %v", d.Pixels, pixels)
				}
			})
		}
	}
}

// TestImageFolderNoSplit reads a tree of class folders with no split level,
// including a JPEG and a grayscale PNG.
func TestImageFolderNoSplit(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 2, 2))
	copy(gray.Pix, []byte{10, 20, 30, 40})
	solid := image.NewRGBA(image.Rect(0, 0, 2, 2))
	for i := 0; i < len(solid.Pix); i += 4 {
		copy(solid.Pix[i:], []byte{200, 100, 50, 255})
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, solid, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	_, _, tgz := writeTree(t, t.TempDir(), []file{
		{"b/x.JPEG", jpg.Bytes()},
		{"a/x.png", encodePNG(t, gray)},
	})
	d, err := Load("imagefolder:"+tgz, "train")
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 || d.Classes != 2 || !bytes.Equal(d.Labels, []byte{0, 1}) {
		t.Fatalf("len %d classes %d labels %v, want 2 2 [0 1]", d.Len(), d.Classes, d.Labels)
	}
	if want := slices.Repeat([]byte{10, 20, 30, 40}, 3); !bytes.Equal(d.Pixels[:12], want) {
		t.Fatalf("gray image planes %v, want %v", d.Pixels[:12], want)
	}
	for i, v := range d.Pixels[12:] {
		if want := []int{200, 100, 50}[i/4]; math.Abs(float64(int(v)-want)) > 3 {
			t.Fatalf("JPEG planes %v, want about 200x4 100x4 50x4", d.Pixels[12:])
		}
	}
}

func TestImageFolderErrors(t *testing.T) {
	img := encodePNG(t, testImage(1, 3, 2))
	tgzBytes := func(files []file) []byte {
		_, _, p := writeTree(t, t.TempDir(), files)
		b, _ := os.ReadFile(p)
		return b
	}
	tenClasses := func(n int) []file {
		var fs []file
		for i := range n {
			fs = append(fs, file{fmt.Sprintf("train/c%d/a.png", i), img})
		}
		return fs
	}
	good := tgzBytes(tenClasses(10))
	tests := []struct {
		name   string
		source string // "imagefolder" or "cifar10"
		files  []file // a tree, written as a .tar.gz
		raw    []byte // or the .tar.gz's bytes
		split  string
		want   []string // substrings of the error; none for success
	}{
		{name: "size mismatch", files: []file{{"train/a/1.png", img}, {"train/b/0.png", encodePNG(t, testImage(1, 2, 3))}},
			want: []string{"train/b/0.png", "2x3", "one size for now"}},
		{name: "corrupt image", files: []file{{"train/a/1.png", img}, {"train/a/2.png", img[:20]}},
			want: []string{"train/a/2.png", "bad image"}},
		{name: "first of two bad", files: []file{{"train/a/1.png", img}, {"train/a/2.png", []byte("x")}, {"train/a/3.png", []byte("y")}},
			want: []string{"train/a/2.png"}},
		{name: "missing split", files: []file{{"test/a/1.png", img}},
			want: []string{"no images under train/", "test/"}},
		{name: "no images", files: []file{{"train/a/1.txt", img}},
			want: []string{"no images"}},
		{name: "not an archive", raw: []byte("hello, world"),
			want: []string{"not a tar archive"}},
		{name: "truncated archive", raw: good[:len(good)/2],
			want: []string{"tree.tar.gz", "truncated"}},
		{name: "cifar10 wants 10 classes", source: "cifar10", files: tenClasses(9),
			want: []string{"9 class folders, want 10"}},
		{name: "cifar10 ten classes", source: "cifar10", raw: good},
		{name: "too many classes", files: tenClasses(257),
			want: []string{"257 class folders", "256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "tree.tar.gz")
			b := tt.raw
			if tt.files != nil {
				b = tgzBytes(tt.files)
			}
			writeFile(t, p, b)
			_, err := Load(cmp.Or(tt.source, "imagefolder")+":"+p, cmp.Or(tt.split, "train"))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tt.want)
			}
			for _, w := range append(tt.want, p) {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("Load error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// sharedData is where the project's shared data sets live, relative to this
// package's folder.
const sharedData = "../../../shared/data"

func TestRealCIFAR10Test(t *testing.T) {
	path := filepath.Join(sharedData, "cifar10-test.tar.gz")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s: %v", path, err)
	}
	start := time.Now()
	d, err := Load("cifar10:"+path, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d images in %v", d.Len(), time.Since(start))
	if d.Len() != 10000 || d.C != 3 || d.H != 32 || d.W != 32 || d.Classes != 10 || d.Name != "cifar10/test" {
		t.Fatalf("got %s len %d %dx%dx%d classes %d, want 10000 3x32x32 10 classes", d.Name, d.Len(), d.C, d.H, d.W, d.Classes)
	}
	var hist [10]int
	for _, l := range d.Labels {
		hist[l]++
	}
	if hist != [10]int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000} {
		t.Errorf("class counts %v, want 1000 each", hist)
	}
	// Per-channel means of the CIFAR-10 test set, give or take JPEG.
	plane := 32 * 32
	for c, want := range []float64{0.4942, 0.4851, 0.4504} {
		var sum float64
		for i := range d.Len() {
			for _, v := range d.Pixels[(3*i+c)*plane : (3*i+c+1)*plane] {
				sum += float64(v)
			}
		}
		if mean := sum / 255 / float64(d.Len()*plane); math.Abs(mean-want) > 0.01 {
			t.Errorf("channel %d mean %.4f, want %.4f", c, mean, want)
		}
	}
	// Its train split, and the shared folder's, is the sibling archive
	// (resolved, not loaded: 50,000 images).
	for _, source := range []string{path, sharedData} {
		if got, _, err := splitArchive(source, "train"); err != nil || got != filepath.Join(sharedData, "cifar10-train.tar.gz") {
			t.Errorf("the train split of %s: %q, %v; want the sibling cifar10-train.tar.gz", source, got, err)
		}
	}
}
