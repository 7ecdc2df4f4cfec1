package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzCIFARBinary reads arbitrary bytes as a CIFAR-10 binary batch: the
// result is an error exactly when the bytes are not whole records with
// labels 0..9, and then the data set is as it was; otherwise it holds each
// record's label and pixels, in order, after what it had.
func FuzzCIFARBinary(f *testing.F) {
	f.Add(cifarBatch(0, 3, 9, 0))
	f.Add(cifarBatch(7, 10))
	f.Add(cifarBatch(1, 1)[:cifarRecord-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &Dataset{Name: "cifar10/train", C: 3, H: 32, W: 32, Classes: 10, Labels: []uint8{4}, Pixels: seq(5, cifarPixels)}
		before := slices.Clone(d.Pixels)
		err := appendCIFARBatch(d, "batch.bin", b)
		n := len(b) / cifarRecord
		valid := len(b) > 0 && len(b)%cifarRecord == 0
		for i := 0; valid && i < n; i++ {
			valid = b[i*cifarRecord] < 10
		}
		if (err == nil) != valid {
			t.Fatalf("%d bytes: error %v, but the batch is valid: %v", len(b), err, valid)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "batch.bin") {
				t.Fatalf("error %q does not name the file", err)
			}
			if d.Len() != 1 || !bytes.Equal(d.Pixels, before) {
				t.Fatalf("a failed append changed the data set: %d images", d.Len())
			}
			return
		}
		if err := d.check(); err != nil {
			t.Fatal(err)
		}
		if d.Len() != 1+n {
			t.Fatalf("%d images from %d records after 1", d.Len(), n)
		}
		for i := range n {
			rec := b[i*cifarRecord : (i+1)*cifarRecord]
			if d.Labels[1+i] != rec[0] || !bytes.Equal(d.Pixels[(1+i)*cifarPixels:(2+i)*cifarPixels], rec[1:]) {
				t.Fatalf("record %d differs from the input", i)
			}
		}
	})
}

// FuzzImageFolderTar loads arbitrary bytes as an ImageFolder archive
// (tar or tar.gz, PNG and JPEG images): an error names the archive, and
// a problem with an image names its member; a data set is consistent,
// has one image per image member of the split, labels each by its class
// folder, and agrees with ClassNames.
func FuzzImageFolderTar(f *testing.F) {
	png1, png2 := encodePNG(f, testImage(1, 3, 2)), encodePNG(f, testImage(2, 3, 2))
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, testImage(3, 3, 2), nil); err != nil {
		f.Fatal(err)
	}
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	for _, files := range [][]file{
		{{"train/cat/a.png", png1}, {"train/dog/b.jpg", jpg.Bytes()}, {"test/cat/c.png", png2}},
		{{"cat/a.png", png1}, {"dog/a.png", encodePNG(f, gray)}},
		{{"train/a/", nil}, {"train/a/x.png", png1}, {"train/b/", nil}},
		{{"train/a/0.png", png1}, {"train/b/huge.png", pngHeader(100000, 100000)}},
		{{"train/a/0.png", png1}, {"train/a/1.png", encodePNG(f, testImage(1, 2, 3))}},
	} {
		b := tarOf(f, files)
		f.Add(b)
		f.Add(gz(b))
	}
	p := filepath.Join(f.TempDir(), "fuzz.tar") // each worker process runs one input at a time
	f.Fuzz(func(t *testing.T, b []byte) {
		writeFile(t, p, b)
		d, err := Load("imagefolder:"+p, "train")
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, p) {
				t.Fatalf("error %q does not name the archive", msg)
			}
			if strings.Contains(msg, "image") && strings.Contains(msg, "bad") && !strings.Contains(msg, "entry ") {
				t.Fatalf("error %q about an image names no member", msg)
			}
			return
		}
		if err := d.check(); err != nil {
			t.Fatal(err)
		}
		names, err := ClassNames("imagefolder:"+p, "train")
		if err != nil || !slices.Equal(names, d.ClassNames) {
			t.Fatalf("ClassNames = %v, %v; the data set has %v", names, err, d.ClassNames)
		}
		// Count the image members per class folder: those of train/<class>/
		// if there are any, else those of <class>/.
		inSplit, flat := map[string]int{}, map[string]int{}
		tr := tar.NewReader(gunzipped(t, b))
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("the archive loaded, but reading it again: %v", err)
			}
			name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
			if !hdr.FileInfo().Mode().IsRegular() || !isImage(name) || hidden(name) {
				continue
			}
			parts := strings.Split(name, "/")
			if len(parts) >= 3 && parts[0] == "train" {
				inSplit[parts[1]]++
			}
			if len(parts) >= 2 {
				flat[parts[0]]++
			}
		}
		perClass := inSplit
		if len(inSplit) == 0 {
			perClass = flat
		}
		images := 0
		for _, n := range perClass {
			images += n
		}
		if d.Len() != images {
			t.Fatalf("%d images, the archive has %d: %v", d.Len(), images, perClass)
		}
		got := map[string]int{}
		for _, l := range d.Labels {
			got[d.ClassNames[l]]++
		}
		if len(got) != len(perClass) {
			t.Fatalf("images per class %v, the archive has %v", got, perClass)
		}
		for c, n := range got {
			if perClass[c] != n {
				t.Fatalf("images per class %v, the archive has %v", got, perClass)
			}
		}
	})
}

// gunzipped returns a reader of b, gunzipped if it is gzip'd.
func gunzipped(t *testing.T, b []byte) io.Reader {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("the archive loaded, but gunzipping it again: %v", err)
		}
		return r
	}
	return bytes.NewReader(b)
}
