package data

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pngHeader returns the start of a PNG file, its signature and IHDR
// chunk, claiming an 8-bit RGBA image of w x h.
func pngHeader(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // depth, RGBA, compression, filter, interlace
	chunk := append([]byte("IHDR"), ihdr...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)))
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

// tarOf returns a tar archive of the files, with a folder header for each
// name that ends in a slash.
func tarOf(t testing.TB, files []file) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if strings.HasSuffix(f.name, "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHugeImageHeader: a PNG whose header claims 100000x100000 pixels is
// refused from its header, before a decoder allocates the image.
func TestHugeImageHeader(t *testing.T) {
	img := encodePNG(t, testImage(1, 3, 2))
	for _, tt := range []struct {
		w, h uint32
		want string
	}{
		{100000, 100000, "image size 100000x100000 is outside 1x1 to 8192x8192"},
		{8193, 1, "image size 8193x1"},
		{1, 1 << 20, "image size 1x1048576 is outside"},
	} {
		p := filepath.Join(t.TempDir(), "t.tar")
		writeFile(t, p, tarOf(t, []file{{"train/a/0.png", img}, {"train/b/huge.png", pngHeader(tt.w, tt.h)}}))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Load("imagefolder:"+p, "train")
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "train/b/huge.png") || !strings.Contains(err.Error(), p) {
			t.Errorf("%dx%d: error %v, want one naming %s, the member and %q", tt.w, tt.h, err, p, tt.want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%dx%d: loading allocated %d MiB", tt.w, tt.h, alloc>>20)
		}
	}
}

// TestHugeMember: a tar member larger than an image file may be is
// refused before it is read (a gzip'd archive of zeros could otherwise
// ask for any amount of memory).
func TestHugeMember(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "train/a/0.png", Mode: 0o644, Size: maxImageFile + 1, Typeflag: tar.TypeReg})
	p := filepath.Join(t.TempDir(), "t.tar")
	writeFile(t, p, buf.Bytes()) // the header alone: the member's bytes are never read
	_, err := Load("imagefolder:"+p, "train")
	if err == nil || !strings.Contains(err.Error(), "train/a/0.png") || !strings.Contains(err.Error(), "more than the 256 MiB") {
		t.Errorf("error %v, want one naming the member and the limit", err)
	}
}

func TestEmptyClassFolder(t *testing.T) {
	img := encodePNG(t, testImage(1, 3, 2))
	files := []file{{"train/cat/0.png", img}, {"train/dog/notes.txt", []byte("no image")}, {"test/cat/0.png", img}}
	folder, _, _ := writeTree(t, t.TempDir(), files)
	os.MkdirAll(filepath.Join(folder, "train", "eel"), 0o755)
	tarPath := filepath.Join(t.TempDir(), "t.tar")
	writeFile(t, tarPath, tarOf(t, append(files, file{name: "train/eel/"})))
	for _, root := range []string{folder, tarPath} {
		_, err := Load("imagefolder:"+root, "train")
		if err == nil || !strings.Contains(err.Error(), "class folder train/") || !strings.Contains(err.Error(), "has no images") || !strings.Contains(err.Error(), root) {
			t.Errorf("%s: error %v, want an empty class folder named", root, err)
		}
		if d, err := Load("imagefolder:"+root, "test"); err != nil || d.Classes != 1 {
			t.Errorf("%s: the test split, whose class folder has an image: %v", root, err)
		}
	}
	// A class folder in a tree without splits.
	flat, _, _ := writeTree(t, t.TempDir(), []file{{"cat/0.png", img}})
	os.MkdirAll(filepath.Join(flat, "dog"), 0o755)
	if _, err := Load("imagefolder:"+flat, "train"); err == nil || !strings.Contains(err.Error(), "class folder dog/ has no images") {
		t.Errorf("flat tree: error %v, want dog/ named", err)
	}
}

func TestClassNames(t *testing.T) {
	img := encodePNG(t, testImage(1, 3, 2))
	folder, tarPath, tgzPath := writeTree(t, t.TempDir(), []file{
		{"train/cat/0.png", img}, {"train/dog/0.png", img}, {"train/eel/0.png", img},
		{"test/cat/0.png", img}, {"test/eel/0.png", img},
	})
	for _, root := range []string{folder, tarPath, tgzPath} {
		train, err := Load("imagefolder:"+root, "train")
		if err != nil {
			t.Fatal(err)
		}
		test, err := Load("imagefolder:"+root, "test")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"cat", "dog", "eel"}; !slices.Equal(train.ClassNames, want) {
			t.Errorf("%s: train classes %v, want %v", root, train.ClassNames, want)
		}
		names, err := ClassNames("imagefolder:"+root, "test")
		if err != nil || !slices.Equal(names, test.ClassNames) {
			t.Errorf("%s: ClassNames(test) = %v, %v; the loaded split has %v", root, names, err, test.ClassNames)
		}
		want := `class "dog" is in imagefolder/train (` + root + `) but not in imagefolder/test (` + root + `)`
		if err := SameClasses(train, test); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "has 3 classes") || !strings.Contains(err.Error(), "has 2") {
			t.Errorf("%s: SameClasses: %v, want %q", root, err, want)
		}
		if err := test.MatchSplit("imagefolder:"+root, "train"); err == nil || !strings.Contains(err.Error(), `class "dog"`) {
			t.Errorf("%s: MatchSplit: %v, want dog named", root, err)
		}
		if err := train.MatchSplit("imagefolder:"+root, "train"); err != nil {
			t.Errorf("%s: a split matches itself: %v", root, err)
		}
		// A tree without a train split has nothing to compare with.
		if err := test.MatchSplit("imagefolder:"+root, "val"); err != nil {
			t.Errorf("%s: MatchSplit with a missing split: %v", root, err)
		}
	}
	// Renamed: the same count, a different class.
	a := &Dataset{Name: "a", Classes: 2, ClassNames: []string{"cat", "dog"}}
	b := &Dataset{Name: "b", Classes: 2, ClassNames: []string{"cat", "cow"}}
	if err := SameClasses(a, b); err == nil || !strings.Contains(err.Error(), `class "cow" is in b but not in a`) {
		t.Errorf("SameClasses: %v", err)
	}
	// Numbered classes: counts only.
	if err := SameClasses(&Dataset{Name: "a", Classes: 10}, &Dataset{Name: "b", Classes: 9}); err == nil || !strings.Contains(err.Error(), "a has 10 classes but b has 9") {
		t.Errorf("SameClasses of numbered classes: %v", err)
	}
	if names, err := ClassNames("mnist", "train"); names != nil || err != nil {
		t.Errorf("ClassNames(mnist) = %v, %v, want none", names, err)
	}
}

func TestDatasetCheck(t *testing.T) {
	good := func() *Dataset {
		return &Dataset{Name: "d", C: 1, H: 1, W: 2, Classes: 3, Pixels: make([]uint8, 4), Labels: []uint8{2, 0}}
	}
	if err := good().check(); err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(*Dataset){
		"short pixels":  func(d *Dataset) { d.Pixels = d.Pixels[:3] },
		"label":         func(d *Dataset) { d.Labels[1] = 3 },
		"no classes":    func(d *Dataset) { d.Classes = 0 },
		"no width":      func(d *Dataset) { d.W = 0 },
		"class names":   func(d *Dataset) { d.ClassNames = []string{"a"} },
		"many classes ": func(d *Dataset) { d.Classes = 257 },
	} {
		d := good()
		breakIt(d)
		if err := d.check(); err == nil {
			t.Errorf("%s: check passed %+v", name, d)
		}
	}
}

// TestCIFARBatchNotRegular: a batch that is not a regular file (a FIFO
// would block the reader forever) is an error naming it.
func TestCIFARBatchNotRegular(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "data_batch_1.bin"), cifarBatch(0, 1))
	if err := syscall.Mkfifo(filepath.Join(dir, "data_batch_2.bin"), 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load("cifar10:"+dir, "train"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "data_batch_2.bin is not a regular file") {
			t.Errorf("error %v, want data_batch_2.bin named", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load blocks on a FIFO")
	}
}

// TestNotRegularEntries: a named pipe with an image's name made the
// loader block forever, and a class folder that is a symbolic link was
// dropped without a word (WalkDir does not follow links); both are
// errors naming the entry now. A link to an image file still loads.
func TestNotRegularEntries(t *testing.T) {
	img := encodePNG(t, testImage(1, 3, 2))
	files := []file{{"train/cat/0.png", img}, {"train/dog/0.png", img}}
	for _, tc := range []struct {
		name string
		make func(folder string) error
		want string // in the error; "" for none
	}{
		{"pipe", func(f string) error { return syscall.Mkfifo(filepath.Join(f, "train", "cat", "1.png"), 0o644) }, "entry train/cat/1.png is not a regular file"},
		{"link to a pipe", func(f string) error {
			pipe := filepath.Join(t.TempDir(), "pipe")
			if err := syscall.Mkfifo(pipe, 0o644); err != nil {
				return err
			}
			return os.Symlink(pipe, filepath.Join(f, "train", "cat", "1.png"))
		}, "entry train/cat/1.png links to something that is not a regular file"},
		{"linked class folder", func(f string) error {
			return os.Symlink(filepath.Join(f, "train", "dog"), filepath.Join(f, "train", "eel"))
		}, "entry train/eel is a symbolic link to a folder"},
		{"linked image", func(f string) error {
			return os.Symlink(filepath.Join(f, "train", "dog", "0.png"), filepath.Join(f, "train", "cat", "1.png"))
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			folder, _, _ := writeTree(t, t.TempDir(), files)
			if err := tc.make(folder); err != nil {
				t.Skip(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := Load("imagefolder:"+folder, "train")
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the loader still runs after 10 s (blocked on the pipe)")
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestTarLinkMember: a tar member named as an image that is a link is an
// error naming it (it was left out without a word, so its class had one
// image fewer than the archive shows).
func TestTarLinkMember(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	png := encodePNG(t, testImage(1, 3, 2))
	for _, hdr := range []*tar.Header{
		{Name: "train/a/0.png", Mode: 0o644, Size: int64(len(png)), Typeflag: tar.TypeReg},
		{Name: "train/b/1.png", Mode: 0o777, Linkname: "../a/0.png", Typeflag: tar.TypeSymlink},
	} {
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			tw.Write(png)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "links.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load("imagefolder:"+p, "train")
	if err == nil || !strings.Contains(err.Error(), "entry train/b/1.png is named as an image but is not a regular file") {
		t.Fatalf("Load: %v; want an error naming the link", err)
	}
}
