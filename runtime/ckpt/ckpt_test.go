package ckpt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// meta is a stand-in for the trainer's checkpoint metadata.
type meta struct {
	Spec  string            `json:"spec"`
	Step  int               `json:"step"`
	Epoch int               `json:"epoch"`
	RNG   []uint64          `json:"rng"`
	Opt   map[string]string `json:"opt"`
}

var (
	testTensors = []Tensor{
		{Name: "conv1.weight", Shape: []int{2, 1, 1, 2}, Data: []float32{1, -2, 3.5, float32(math.Inf(1))}},
		{Name: "bn1.num_batches_tracked", Shape: []int{}, Data: []float32{7}},
		{Name: "empty", Shape: []int{0, 3}, Data: []float32{}},
		{Name: "fc.bias", Shape: []int{3}, Data: []float32{0, float32(math.SmallestNonzeroFloat32), -0.25}},
		{Name: "layer1.0.conv1.weight", Shape: []int{1}, Data: []float32{42}},
	}
	testMeta = meta{Spec: "model r18\n", Step: 1200, Epoch: 3, RNG: []uint64{1, math.MaxUint64}, Opt: map[string]string{"kind": "sgd"}}
)

func TestRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tensors []Tensor
		meta    any
	}{
		{"tensors and meta", testTensors, testMeta},
		{"no meta", testTensors, nil},
		{"no tensors", nil, testMeta},
		{"nothing", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			if err := Save(path, tt.tensors, tt.meta); err != nil {
				t.Fatal(err)
			}
			var got meta
			ts, err := Load(path, &got)
			if err != nil {
				t.Fatal(err)
			}
			if len(ts) != len(tt.tensors) {
				t.Fatalf("loaded %d tensors, want %d", len(ts), len(tt.tensors))
			}
			for i, want := range tt.tensors {
				if d := cmp.Diff(want, ts[i]); d != "" {
					t.Errorf("tensor %d differs (-want +got):\n%s", i, d)
				}
			}
			want := meta{}
			if tt.meta != nil {
				want = tt.meta.(meta)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("meta differs (-want +got):\n%s", d)
			}
			if _, err := Load(path, nil); err != nil {
				t.Errorf("Load with nil meta: %v", err)
			}
		})
	}
}

func TestNaNRoundTrip(t *testing.T) {
	nan := math.Float32frombits(0x7fc00001)
	path := filepath.Join(t.TempDir(), "nan.safetensors")
	if err := Save(path, []Tensor{{Name: "x", Shape: []int{1}, Data: []float32{nan}}}, nil); err != nil {
		t.Fatal(err)
	}
	ts, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := math.Float32bits(ts[0].Data[0]); got != 0x7fc00001 {
		t.Fatalf("NaN bits %#x, want 0x7fc00001", got)
	}
}

// TestFormat checks the bytes Save writes against the safetensors layout.
func TestFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.safetensors")
	tensors := []Tensor{
		{Name: "b", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "a", Shape: []int{1, 1}, Data: []float32{-1}},
	}
	if err := Save(path, tensors, map[string]int{"step": 5}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 || 8+n > uint64(len(b)) {
		t.Fatalf("header length %d in a %d-byte file; want a multiple of 8", n, len(b))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"__metadata__": `{"netc":"{\"step\":5}"}`,
		"b":            `{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`,
		"a":            `{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}`,
	}
	if len(header) != len(want) {
		t.Fatalf("header has %d keys, want %d: %s", len(header), len(want), b[8:8+n])
	}
	for k, v := range want {
		if string(header[k]) != v {
			t.Errorf("header[%q] = %s, want %s", k, header[k], v)
		}
	}
	data := b[8+n:]
	wantData := []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x80, 0xbf}
	if !bytes.Equal(data, wantData) {
		t.Errorf("data % x, want % x", data, wantData)
	}
}

func TestSaveErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"shape mismatch", []Tensor{{Name: "w", Shape: []int{2, 2}, Data: make([]float32, 3)}}, "needs 4 values"},
		{"negative dim", []Tensor{{Name: "w", Shape: []int{-1}, Data: nil}}, "bad shape"},
		{"duplicate", []Tensor{{Name: "w", Shape: []int{}, Data: []float32{1}}, {Name: "w", Shape: []int{}, Data: []float32{1}}}, "twice"},
		{"empty name", []Tensor{{Shape: []int{}, Data: []float32{1}}}, "bad tensor name"},
		{"metadata name", []Tensor{{Name: "__metadata__", Shape: []int{}, Data: []float32{1}}}, "bad tensor name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.safetensors")
			err := Save(path, tt.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Save error %v, want one containing %q and naming %s", err, tt.want, path)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("Save left %v in the folder", entries)
			}
		})
	}
}

// TestSaveAtomic checks that a failed Save leaves the old file as it was,
// with no temp file beside it.
func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := Save(path, testTensors, testMeta); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(path, testTensors[:1], make(chan int)); err == nil {
		t.Fatal("Save with an unmarshallable meta succeeded")
	}
	if err := Save(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1}}}, nil); err == nil {
		t.Fatal("Save with a bad tensor succeeded")
	}
	if err := Save(filepath.Join(dir, "missing", "x"), testTensors, nil); err == nil {
		t.Fatal("Save into a missing folder succeeded")
	}
	now, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(now, old) {
		t.Fatalf("old checkpoint changed (err %v)", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("folder holds %v, want only model.safetensors", entries)
	}
	// A good Save replaces the file.
	if err := Save(path, testTensors[:1], nil); err != nil {
		t.Fatal(err)
	}
	if ts, err := Load(path, nil); err != nil || len(ts) != 1 {
		t.Fatalf("after replacing: %d tensors, err %v; want 1", len(ts), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("folder holds %v after a good Save, want only model.safetensors", entries)
	}
}

// goodFile returns a small valid checkpoint's bytes.
func goodFile(t testing.TB) []byte {
	path := filepath.Join(t.TempDir(), "good.safetensors")
	if err := Save(path, testTensors, testMeta); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadBytes writes b to a file and loads it, checking that any error names
// the file.
func loadBytes(t *testing.T, b []byte) ([]Tensor, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var m meta
	ts, err := Load(path, &m)
	if err != nil && !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	return ts, err
}

func TestLoadTruncated(t *testing.T) {
	good := goodFile(t)
	for n := range len(good) {
		if _, err := loadBytes(t, good[:n]); err == nil {
			t.Fatalf("loading the first %d of %d bytes succeeded", n, len(good))
		}
	}
	if _, err := loadBytes(t, append(good, 0)); err == nil || !strings.Contains(err.Error(), "cover") {
		t.Fatalf("trailing byte: error %v, want one about coverage", err)
	}
}

// TestLoadFlipped flips every bit of the header and checks that Load either
// fails or returns tensors consistent with their shapes; never panics.
func TestLoadFlipped(t *testing.T) {
	good := goodFile(t)
	n := 8 + int(binary.LittleEndian.Uint64(good))
	failures := 0
	for i := range n {
		for bit := range 8 {
			b := bytes.Clone(good)
			b[i] ^= 1 << bit
			ts, err := read(bytes.NewReader(b), int64(len(b)), new(meta))
			if err != nil {
				failures++
				continue
			}
			for _, x := range ts {
				size := 1
				for _, d := range x.Shape {
					size *= d
				}
				if size != len(x.Data) {
					t.Fatalf("flip byte %d bit %d: tensor %s shape %v with %d values", i, bit, x.Name, x.Shape, len(x.Data))
				}
			}
		}
	}
	// Most flips (the length, the structure, the offsets) must be caught.
	if failures < n*8/2 {
		t.Errorf("only %d of %d header bit flips were rejected", failures, n*8)
	}
}

// header builds a file from a header map and data length.
func header(t testing.TB, h any, data int) []byte {
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(j)))
	b = append(b, j...)
	return append(b, make([]byte, data)...)
}

func TestLoadBad(t *testing.T) {
	type e = map[string]any
	f32 := func(shape []int, begin, end int) e {
		return e{"dtype": "F32", "shape": shape, "data_offsets": []int{begin, end}}
	}
	for _, tt := range []struct {
		name string
		file []byte
		want string
	}{
		{"bad dtype", header(t, e{"w": e{"dtype": "F16", "shape": []int{2}, "data_offsets": []int{0, 4}}}, 4), `dtype "F16" not supported (only F32)`},
		{"overlap", header(t, e{"a": f32([]int{2}, 0, 8), "b": f32([]int{2}, 4, 12)}, 12), "overlaps"},
		{"same offsets", header(t, e{"a": f32([]int{2}, 0, 8), "b": f32([]int{2}, 0, 8)}, 8), "overlaps"},
		{"gap", header(t, e{"a": f32([]int{1}, 0, 4), "b": f32([]int{1}, 8, 12)}, 12), "gap"},
		{"short data", header(t, e{"a": f32([]int{2}, 0, 8)}, 12), "cover"},
		{"past data", header(t, e{"a": f32([]int{3}, 0, 12)}, 8), "outside"},
		{"shape vs offsets", header(t, e{"a": f32([]int{1}, 0, 8)}, 8), "shape [1] needs 4 bytes but data_offsets [0, 8] hold 8"},
		{"shape past data", header(t, e{"a": f32([]int{3}, 0, 8)}, 8), "needs more data than the file holds"},
		{"huge shape", header(t, e{"a": f32([]int{1 << 30, 1 << 30, 1 << 30}, 0, 8)}, 8), "shape"},
		{"negative dim", header(t, e{"a": f32([]int{-2}, 0, 8)}, 8), "negative"},
		{"begin after end", header(t, e{"a": f32([]int{0}, 8, 4)}, 8), "outside"},
		{"three offsets", header(t, e{"a": e{"dtype": "F32", "shape": []int{1}, "data_offsets": []int{0, 4, 8}}}, 4), "data_offsets"},
		{"no shape", header(t, e{"a": e{"dtype": "F32", "data_offsets": []int{0, 4}}}, 4), "no shape"},
		{"entry not object", header(t, e{"a": 3}, 0), "bad header entry"},
		{"metadata not strings", header(t, e{"__metadata__": e{"netc": 3}}, 0), "__metadata__"},
		{"netc not JSON", header(t, e{"__metadata__": e{"netc": "{"}}, 0), "netc metadata"},
		{"netc wrong type", header(t, e{"__metadata__": e{"netc": `{"step":"x"}`}}, 0), "netc metadata"},
		{"header array", header(t, []int{1}, 0), "not a JSON object"},
		{"duplicate tensor", func() []byte {
			j := `{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`
			return append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(j))), j...), 0, 0, 0, 0)
		}(), "twice"},
		{"trailing JSON", append(binary.LittleEndian.AppendUint64(nil, 4), "{}{}"...), "after the object"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<40), "limit"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "past the end"},
		{"empty", nil, "truncated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadBytes(t, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestLoadForeign reads a file laid out as the safetensors library writes
// it: keys sorted by name, not by offset, and no netc metadata.
func TestLoadForeign(t *testing.T) {
	j := `{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(j)))
	b = append(b, j...)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(2))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(1))
	m := meta{Step: 9}
	path := filepath.Join(t.TempDir(), "foreign.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ts, err := Load(path, &m)
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{{Name: "b", Shape: []int{1}, Data: []float32{2}}, {Name: "a", Shape: []int{1}, Data: []float32{1}}}
	if d := cmp.Diff(want, ts); d != "" {
		t.Fatalf("tensors differ (-want +got):\n%s", d)
	}
	if m.Step != 9 {
		t.Fatalf("meta changed to %+v with no netc metadata", m)
	}
}

// TestPython cross-checks with the safetensors Python package, if present.
func TestPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if exec.Command(python, "-c", "import safetensors.numpy").Run() != nil {
		t.Skip("python3 has no safetensors package")
	}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := Save(path, testTensors, testMeta); err != nil {
		t.Fatal(err)
	}
	script := `import sys, json
from safetensors.numpy import load_file, save_file
from safetensors import safe_open
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], "np") as f:
    meta = json.loads(f.metadata()["netc"])
print(json.dumps({k: [list(v.shape), [float(x) for x in v.flatten()]] for k, v in t.items()}))
save_file(t, sys.argv[1] + ".py")
`
	out, err := exec.Command(python, "-c", script, path).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	if !strings.Contains(string(out), `"fc.bias": [[3]`) {
		t.Errorf("python read %s", out)
	}
	ts, err := Load(path+".py", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(testTensors) {
		t.Fatalf("read %d tensors back from python, want %d", len(ts), len(testTensors))
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(goodFile(f))
	f.Add(header(f, map[string]any{"a": map[string]any{"dtype": "F32", "shape": []int{1}, "data_offsets": []int{0, 4}}}, 4))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := read(bytes.NewReader(b), int64(len(b)), new(meta))
		if err != nil {
			return
		}
		for _, x := range ts {
			size := 1
			for _, d := range x.Shape {
				size *= d
			}
			if size != len(x.Data) {
				t.Fatalf("tensor %s shape %v with %d values", x.Name, x.Shape, len(x.Data))
			}
		}
	})
}
