// Package ckpt reads and writes checkpoints in the safetensors format: named
// float32 tensors plus netc's own metadata as JSON.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON header
//
//	{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//	 "__metadata__": {"netc": "<JSON>"}}
//
// and then the tensors' little-endian data, offsets counted from its start.
package ckpt

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/renameio/v2"
)

// Tensor is a named float32 array.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// MaxHeader is the largest JSON header Load accepts, in bytes.
const MaxHeader = 100 << 20

// metaKey is the header key of the metadata map, and netcKey the metadata
// entry holding netc's JSON.
const (
	metaKey = "__metadata__"
	netcKey = "netc"
)

// info is a tensor's header entry.
type info struct {
	Dtype       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Save writes tensors and meta (marshalled with encoding/json) to path
// atomically (with renameio): a temp file in the same directory (named
// "." + the file's name + digits), fsync, rename over path, fsync the
// directory. A crash at any moment leaves either the old file or the new
// one (and perhaps the temp file). A nil meta writes no netc metadata.
func Save(path string, tensors []Tensor, meta any) error {
	header, err := encodeHeader(tensors, meta)
	if err != nil {
		return fmt.Errorf("ckpt: saving %s: %w", path, err)
	}
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return fmt.Errorf("ckpt: saving %s: %w", path, err)
	}
	defer f.Cleanup()
	if err := writeData(f, header, tensors); err != nil {
		return fmt.Errorf("ckpt: saving %s: %w", path, err)
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("ckpt: saving %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("ckpt: saving %s: %w", path, err)
	}
	return nil
}

// Encode is Save into memory.
func Encode(tensors []Tensor, meta any) ([]byte, error) {
	header, err := encodeHeader(tensors, meta)
	if err != nil {
		return nil, fmt.Errorf("ckpt: %w", err)
	}
	var b bytes.Buffer
	if err := writeData(&b, header, tensors); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeData writes the header length, the header and the tensor data.
func writeData(f io.Writer, header []byte, tensors []Tensor) error {
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(header))))
	w.Write(header)
	var buf []byte
	for _, t := range tensors {
		for chunk := range slices.Chunk(t.Data, 1<<14) {
			buf = buf[:0]
			for _, v := range chunk {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			w.Write(buf)
		}
	}
	return w.Flush()
}

// syncDir flushes a directory's entries to disk, so that the rename
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// encodeHeader returns the JSON header for tensors and meta, padded with
// spaces to a multiple of 8 bytes as the safetensors library does.
func encodeHeader(tensors []Tensor, meta any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if meta != nil {
		m, err := json.Marshal(meta)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		md, err := json.Marshal(map[string]string{netcKey: string(m)})
		if err != nil {
			return nil, err
		}
		b.WriteString(`"` + metaKey + `":`)
		b.Write(md)
	}
	seen := make(map[string]bool)
	var off int64
	for _, t := range tensors {
		switch {
		case t.Name == "" || t.Name == metaKey:
			return nil, fmt.Errorf("bad tensor name %q", t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		n := int64(1)
		shape := make([]int64, len(t.Shape))
		for i, d := range t.Shape {
			if d < 0 || (d > 0 && n > math.MaxInt64/4/int64(d)) {
				return nil, fmt.Errorf("tensor %s: bad shape %v", t.Name, t.Shape)
			}
			n *= int64(d)
			shape[i] = int64(d)
		}
		if n != int64(len(t.Data)) {
			return nil, fmt.Errorf("tensor %s: shape %v needs %d values, have %d", t.Name, t.Shape, n, len(t.Data))
		}
		e, err := json.Marshal(info{Dtype: "F32", Shape: shape, DataOffsets: []int64{off, off + 4*n}})
		if err != nil {
			return nil, err
		}
		off += 4 * n
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		b.Write(name)
		b.WriteByte(':')
		b.Write(e)
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes(), nil
}

// Load reads the checkpoint at path and returns its tensors in the order of
// their data. If meta is not nil and the file has netc metadata, Load
// decodes that into meta with json.Unmarshal; a file without it (one written
// by other safetensors tools) leaves meta unchanged.
func Load(path string, meta any) ([]Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ckpt: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ckpt: %w", err)
	}
	ts, err := read(bufio.NewReaderSize(f, 1<<20), fi.Size(), meta)
	if err != nil {
		return nil, fmt.Errorf("ckpt: %s: %w", path, err)
	}
	return ts, nil
}

// Decode is Load for a checkpoint held in memory; name is for errors.
func Decode(name string, b []byte, meta any) ([]Tensor, error) {
	ts, err := read(bytes.NewReader(b), int64(len(b)), meta)
	if err != nil {
		return nil, fmt.Errorf("ckpt: %s: %w", name, err)
	}
	return ts, nil
}

// read decodes a checkpoint of size bytes from r.
func read(r io.Reader, size int64, meta any) ([]Tensor, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("reading header length: %w", truncated(err))
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n > MaxHeader:
		return nil, fmt.Errorf("header length %d is over the %d-byte limit (not a safetensors file?)", n, MaxHeader)
	case int64(n) > size-8:
		return nil, fmt.Errorf("header length %d runs past the end of the %d-byte file (truncated?)", n, size)
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("reading header: %w", truncated(err))
	}
	ts, infos, netc, err := parseHeader(header, size-8-int64(n))
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1<<16)
	for i := range ts {
		begin, end := infos[i].DataOffsets[0], infos[i].DataOffsets[1]
		data := make([]float32, (end-begin)/4)
		for chunk := range slices.Chunk(data, len(buf)/4) {
			b := buf[:4*len(chunk)]
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("reading tensor %q: %w", ts[i].Name, truncated(err))
			}
			for j := range chunk {
				chunk[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			}
		}
		ts[i].Data = data
	}
	if k, _ := r.Read(make([]byte, 1)); k > 0 {
		return nil, errors.New("file grew while being read")
	}
	if meta != nil && netc != nil {
		if err := json.Unmarshal([]byte(*netc), meta); err != nil {
			return nil, fmt.Errorf("netc metadata: %w", err)
		}
	}
	return ts, nil
}

// truncated turns an unexpected end of input into a clearer error.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file is truncated")
	}
	return err
}

// parseHeader decodes and checks a JSON header for dataLen bytes of data. It
// returns the tensors (without data) and their entries sorted by data
// offset, and the netc metadata if present.
func parseHeader(header []byte, dataLen int64) ([]Tensor, []info, *string, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, nil, errors.New("header is not a JSON object")
	}
	var (
		ts    []Tensor
		infos []info
		netc  *string
		seen  = make(map[string]bool)
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("bad JSON header: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, nil, fmt.Errorf("bad JSON header: key %v", tok)
		}
		if seen[name] {
			return nil, nil, nil, fmt.Errorf("header names %q twice", name)
		}
		seen[name] = true
		if name == metaKey {
			var md map[string]string
			if err := dec.Decode(&md); err != nil {
				return nil, nil, nil, fmt.Errorf("bad %s (want an object of strings): %w", metaKey, err)
			}
			if s, ok := md[netcKey]; ok {
				netc = &s
			}
			continue
		}
		var in info
		if err := dec.Decode(&in); err != nil {
			return nil, nil, nil, fmt.Errorf("tensor %q: bad header entry (want {\"dtype\", \"shape\", \"data_offsets\"}): %w", name, err)
		}
		t, err := check(name, in, dataLen)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		ts = append(ts, t)
		infos = append(infos, in)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, nil, fmt.Errorf("bad JSON header: %w", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		return nil, nil, nil, fmt.Errorf("bad JSON header: data after the object (%v)", cmp.Or[any](err, tok))
	}

	// Order by data offset (then by header order, for empty tensors), and
	// check that the tensors tile the data exactly.
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(infos[a].DataOffsets[0], infos[b].DataOffsets[0]),
			cmp.Compare(infos[a].DataOffsets[1], infos[b].DataOffsets[1]))
	})
	sortedTs := make([]Tensor, len(ts))
	sortedInfos := make([]info, len(ts))
	var end int64
	for i, j := range order {
		sortedTs[i], sortedInfos[i] = ts[j], infos[j]
		begin := infos[j].DataOffsets[0]
		switch {
		case begin < end:
			return nil, nil, nil, fmt.Errorf("tensor %q: data [%d, %d) overlaps tensor %q", ts[j].Name, begin, infos[j].DataOffsets[1], sortedTs[i-1].Name)
		case begin > end:
			return nil, nil, nil, fmt.Errorf("tensor %q: gap in the data before offset %d", ts[j].Name, begin)
		}
		end = infos[j].DataOffsets[1]
	}
	if end != dataLen {
		return nil, nil, nil, fmt.Errorf("tensors cover %d bytes of data but the file has %d after the header", end, dataLen)
	}
	return sortedTs, sortedInfos, netc, nil
}

// check validates one header entry against the data length and returns its
// tensor without data.
func check(name string, in info, dataLen int64) (Tensor, error) {
	if in.Dtype != "F32" {
		return Tensor{}, fmt.Errorf("dtype %q not supported (only F32)", in.Dtype)
	}
	if in.Shape == nil {
		return Tensor{}, errors.New("no shape")
	}
	if len(in.DataOffsets) != 2 {
		return Tensor{}, fmt.Errorf("data_offsets %v, want [begin, end]", in.DataOffsets)
	}
	begin, end := in.DataOffsets[0], in.DataOffsets[1]
	if begin < 0 || end < begin || end > dataLen {
		return Tensor{}, fmt.Errorf("data_offsets [%d, %d] outside the %d bytes of data", begin, end, dataLen)
	}
	n := int64(1)
	shape := make([]int, len(in.Shape))
	for i, d := range in.Shape {
		switch {
		case d < 0:
			return Tensor{}, fmt.Errorf("negative dimension in shape %v", in.Shape)
		case d > 0 && n > dataLen/4/d:
			return Tensor{}, fmt.Errorf("shape %v needs more data than the file holds", in.Shape)
		}
		n *= d
		shape[i] = int(d)
	}
	if 4*n != end-begin {
		return Tensor{}, fmt.Errorf("shape %v needs %d bytes but data_offsets [%d, %d] hold %d", in.Shape, 4*n, begin, end, end-begin)
	}
	return Tensor{Name: name, Shape: shape}, nil
}
