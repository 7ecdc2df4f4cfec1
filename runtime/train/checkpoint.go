package train

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/netc/netc/runtime/ckpt"
	"github.com/netc/netc/runtime/nn"
)

// Format names netc's checkpoint metadata layout.
const Format = "netc-checkpoint/1"

// Meta is the JSON metadata of a checkpoint.
type Meta struct {
	Format string `json:"format"`
	Spec   string `json:"spec"` // the spec's canonical text
	// SpecHash is SpecHash(Spec); checkpoints written before it existed
	// lack it.
	SpecHash string `json:"spec_sha256,omitempty"`
	State    State  `json:"state"`
	Config   Config `json:"config"`
	// History holds the metrics of every finished epoch, in order: with
	// them in the checkpoint, an epoch's metrics line and its checkpoint
	// are one atomic fact, and metrics.jsonl is rebuilt from them.
	History []Metrics `json:"metrics,omitempty"`
}

// SpecHash is the hex SHA-256 of a spec's canonical text.
func SpecHash(canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return hex.EncodeToString(h[:])
}

// tensors lists what a checkpoint of m holds: its parameters, running
// statistics and, if opt is not nil, the optimizer's momentum, each named
// as in the file and shaped as the model needs it.
func tensors(m nn.Model, opt *SGD) []ckpt.Tensor {
	var ts []ckpt.Tensor
	for _, p := range m.Params() {
		ts = append(ts, ckpt.Tensor{Name: p.Name, Shape: p.Value.Shape, Data: p.Value.Data})
	}
	for _, s := range m.NormState() {
		ts = append(ts,
			ckpt.Tensor{Name: s.Name + ".running_mean", Shape: []int{len(s.Mean)}, Data: s.Mean},
			ckpt.Tensor{Name: s.Name + ".running_var", Shape: []int{len(s.Var)}, Data: s.Var})
	}
	if opt != nil {
		for i, p := range m.Params() {
			ts = append(ts, ckpt.Tensor{Name: "optimizer." + p.Name + ".momentum_buffer", Shape: p.Value.Shape, Data: opt.Velocity[i]})
		}
	}
	return ts
}

// CheckFinite returns an error wrapping ErrNonFinite (and a
// *nn.NonFiniteError) that names the first tensor of m (parameters,
// running statistics and, if opt is not nil, the optimizer's momentum)
// holding NaN or Inf, and how many of its values do; nil if all are
// finite.
func CheckFinite(m nn.Model, opt *SGD) error {
	err := nn.CheckFinite(m)
	if err == nil && opt != nil {
		for i, p := range m.Params() {
			if err = nn.CheckTensor("optimizer."+p.Name+".momentum_buffer", opt.Velocity[i]); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNonFinite, err)
	}
	return nil
}

// SaveCheckpoint writes the model's parameters and running statistics,
// the optimizer's momentum (if opt is not nil) and the metadata (its
// Format, Spec and SpecHash filled in from m) to path, atomically. It
// refuses, with an error wrapping ErrNonFinite, to write NaN or Inf: the
// file at path, if any, stays as it was.
func SaveCheckpoint(path string, m nn.Model, opt *SGD, meta Meta) error {
	if err := CheckFinite(m, opt); err != nil {
		return fmt.Errorf("not saving %s: %w", path, err)
	}
	meta.Format, meta.Spec = Format, m.Spec().String()
	meta.SpecHash = SpecHash(meta.Spec)
	return ckpt.Save(path, tensors(m, opt), meta)
}

// Checkpoint is a checkpoint read into memory.
type Checkpoint struct {
	Path    string
	Meta    Meta
	tensors map[string]ckpt.Tensor
	order   []string // tensor names in file order
}

// OpenCheckpoint reads a checkpoint file. A file that is missing or is
// not a netc checkpoint gives an InputError; one that cannot be read, the
// error of the operating system.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	c := &Checkpoint{Path: path}
	ts, err := ckpt.Load(path, &c.Meta)
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, &InputError{err}
	}
	return c.index(ts)
}

// ReadCheckpoint decodes a checkpoint held in memory (an embedded one);
// name is for errors.
func ReadCheckpoint(name string, b []byte) (*Checkpoint, error) {
	c := &Checkpoint{Path: name}
	ts, err := ckpt.Decode(name, b, &c.Meta)
	if err != nil {
		return nil, &InputError{err}
	}
	return c.index(ts)
}

func (c *Checkpoint) index(ts []ckpt.Tensor) (*Checkpoint, error) {
	path := c.Path
	if c.Meta.Format != Format {
		return nil, &InputError{fmt.Errorf("%s: not a netc checkpoint (format %q, want %q)", path, c.Meta.Format, Format)}
	}
	// A spec text that is not the one hashed was edited or damaged: its
	// network may differ from the weights' with the same tensor shapes
	// (another mean, std or number of GN groups).
	if h := SpecHash(c.Meta.Spec); c.Meta.SpecHash != "" && c.Meta.SpecHash != h {
		return nil, &InputError{fmt.Errorf("%s: its spec_sha256 %s is not the hash of its spec text (%s): the metadata is damaged", path, c.Meta.SpecHash, h)}
	}
	c.tensors = make(map[string]ckpt.Tensor, len(ts))
	for _, t := range ts {
		c.tensors[t.Name] = t
		c.order = append(c.order, t.Name)
	}
	return c, nil
}

// Restore fills the model's parameters and running statistics (and the
// optimizer's momentum, if opt is not nil) from the checkpoint. Every one
// of them must be present with its exact shape, and the checkpoint must
// hold no other tensor (but the optimizer's, when opt is nil). Its errors
// are InputErrors.
func (c *Checkpoint) Restore(m nn.Model, opt *SGD) error {
	want := tensors(m, opt)
	needed := make(map[string]bool, len(want))
	for _, w := range want {
		needed[w.Name] = true
		t, ok := c.tensors[w.Name]
		switch {
		case !ok:
			return &InputError{fmt.Errorf("%s: no tensor %s (was it saved from a different spec?)", c.Path, w.Name)}
		case !slices.Equal(t.Shape, w.Shape):
			return &InputError{fmt.Errorf("%s: tensor %s has shape %v, the model needs %v (was it saved from a different spec?)", c.Path, w.Name, t.Shape, w.Shape)}
		}
	}
	for _, name := range c.order {
		if opt == nil && strings.HasPrefix(name, "optimizer.") {
			continue
		}
		if !needed[name] {
			return &InputError{fmt.Errorf("%s: tensor %s is not in the model (was it saved from a different spec?)", c.Path, name)}
		}
	}
	for _, w := range want {
		copy(w.Data, c.tensors[w.Name].Data)
	}
	return nil
}

// WeightsOnly encodes the checkpoint without the optimizer's state: the
// weights and running statistics a trained model embeds.
func (c *Checkpoint) WeightsOnly() ([]byte, error) {
	var ts []ckpt.Tensor
	for _, name := range c.order {
		if !strings.HasPrefix(name, "optimizer.") {
			ts = append(ts, c.tensors[name])
		}
	}
	return ckpt.Encode(ts, c.Meta)
}
