package data

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// splitArchives writes, into a new folder, one archive per split named
// name(split), each a tree split/cN/a.png of ten classes, and returns
// the folder.
func splitArchives(t *testing.T, name func(split string) string, splits ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, split := range splits {
		var files []file
		for c := range 10 {
			files = append(files, file{fmt.Sprintf("%s/c%d/a.png", split, c), encodePNG(t, testImage(10*i+c, 3, 2))})
		}
		_, tarPath, tgzPath := writeTree(t, t.TempDir(), files)
		src := tgzPath
		if strings.HasSuffix(name(split), ".tar") {
			src = tarPath
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name(split)), b)
	}
	return dir
}

// TestCIFAR10SplitArchives loads both splits of CIFAR-10 in ImageFolder
// form from one archive per split: given the folder that holds them, or
// either archive, whose sibling serves the other split.
func TestCIFAR10SplitArchives(t *testing.T) {
	for _, name := range []func(string) string{
		func(s string) string { return "cifar10-" + s + ".tar.gz" },
		func(s string) string { return "CIFAR_" + s + "_images.tgz" },
		func(s string) string { return s + ".tar" },
	} {
		dir := splitArchives(t, name, "train", "test")
		for _, source := range []string{dir, filepath.Join(dir, name("train")), filepath.Join(dir, name("test"))} {
			for i, split := range []string{"train", "test"} {
				t.Run(filepath.Base(source)+"/"+split, func(t *testing.T) {
					d, err := Load("cifar10:"+source, split)
					if err != nil {
						t.Fatal(err)
					}
					if d.Name != "cifar10/"+split || d.Len() != 10 || d.Classes != 10 {
						t.Fatalf("got %s with %d images of %d classes, want cifar10/%s with 10 of 10", d.Name, d.Len(), d.Classes, split)
					}
					// The other split's class list is found the same way
					// (eval of a run compares them).
					if err := d.MatchSplit("cifar10:"+source, []string{"test", "train"}[i]); err != nil {
						t.Fatal(err)
					}
					// Each split's images are its own: seeds 10*i+c.
					if want := wantPlanes(10*i+3, 3, 2); !bytes.Equal(d.Pixels[3*len(want):4*len(want)], want) {
						t.Fatalf("image 3 of %s is not the %s archive's", split, name(split))
					}
				})
			}
		}
	}
}

// TestCIFAR10SplitArchiveErrors checks that a split without its archive
// fails with a message naming what was looked for.
func TestCIFAR10SplitArchiveErrors(t *testing.T) {
	trainOnly := splitArchives(t, func(s string) string { return "cifar10-" + s + ".tar.gz" }, "train")
	twoTests := splitArchives(t, func(s string) string { return "cifar10-" + s + ".tar.gz" }, "train", "test")
	writeFile(t, filepath.Join(twoTests, "old-test.tar"), []byte("x"))
	for _, tt := range []struct {
		name, source string
		want         []string
	}{
		{"archive without its sibling", filepath.Join(trainOnly, "cifar10-train.tar.gz"),
			[]string{"cifar10-train.tar.gz", "no images under test/", filepath.Join(trainOnly, "cifar10-test.tar.gz"), "cifar10:DIR"}},
		{"folder without the archive", trainOnly,
			[]string{trainOnly, "no archive for the test split", `"test"`, "found cifar10-train.tar.gz"}},
		{"folder with two archives", twoTests,
			[]string{twoTests, "2 archives for the test split", "cifar10-test.tar.gz, old-test.tar"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("cifar10:"+tt.source, "test")
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("Load error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestCIFAR10FolderBeforeArchives checks that an extracted split folder
// is read rather than an archive beside it.
func TestCIFAR10FolderBeforeArchives(t *testing.T) {
	dir := splitArchives(t, func(s string) string { return "cifar10-" + s + ".tar.gz" }, "train", "test")
	for c := range 10 {
		writeFile(t, filepath.Join(dir, "test", fmt.Sprintf("c%d", c), "a.png"), encodePNG(t, testImage(50+c, 3, 2)))
	}
	d, err := Load("cifar10:"+dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if want := wantPlanes(50, 3, 2); !bytes.Equal(d.Pixels[:len(want)], want) {
		t.Fatalf("read the archive, want the test/ folder beside it")
	}
}
