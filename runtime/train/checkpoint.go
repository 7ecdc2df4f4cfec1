package train

import (
	"fmt"
	"strings"

	"github.com/netc/netc/runtime"
	"github.com/netc/netc/runtime/ckpt"
)

// Format names netc's checkpoint metadata layout.
const Format = "netc-checkpoint/1"

// Meta is the JSON metadata of a checkpoint.
type Meta struct {
	Format string `json:"format"`
	Spec   string `json:"spec"` // the spec's canonical text
	State  State  `json:"state"`
	Config Config `json:"config"`
}

// SaveCheckpoint writes the model's parameters and running statistics,
// the optimizer's momentum (if opt is not nil) and the metadata to path,
// atomically.
func SaveCheckpoint(path string, m runtime.Model, opt *SGD, st State, c Config) error {
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
	meta := Meta{Format: Format, Spec: m.Spec().String(), State: st, Config: c}
	return ckpt.Save(path, ts, meta)
}

// Checkpoint is a checkpoint read into memory.
type Checkpoint struct {
	Path    string
	Meta    Meta
	tensors map[string]ckpt.Tensor
	order   []string // tensor names in file order
}

// OpenCheckpoint reads a checkpoint file.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	c := &Checkpoint{Path: path}
	ts, err := ckpt.Load(path, &c.Meta)
	if err != nil {
		return nil, err
	}
	return c.index(ts)
}

// ReadCheckpoint decodes a checkpoint held in memory (an embedded one);
// name is for errors.
func ReadCheckpoint(name string, b []byte) (*Checkpoint, error) {
	c := &Checkpoint{Path: name}
	ts, err := ckpt.Decode(name, b, &c.Meta)
	if err != nil {
		return nil, err
	}
	return c.index(ts)
}

func (c *Checkpoint) index(ts []ckpt.Tensor) (*Checkpoint, error) {
	path := c.Path
	if c.Meta.Format != Format {
		return nil, fmt.Errorf("%s: not a netc checkpoint (format %q, want %q)", path, c.Meta.Format, Format)
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
// of them must be present with its size.
func (c *Checkpoint) Restore(m runtime.Model, opt *SGD) error {
	fill := func(name string, dst []float32) error {
		t, ok := c.tensors[name]
		if !ok {
			return fmt.Errorf("%s: no tensor %s (was it saved from a different spec?)", c.Path, name)
		}
		if len(t.Data) != len(dst) {
			return fmt.Errorf("%s: tensor %s has %d values, the model needs %d", c.Path, name, len(t.Data), len(dst))
		}
		copy(dst, t.Data)
		return nil
	}
	for _, p := range m.Params() {
		if err := fill(p.Name, p.Value.Data); err != nil {
			return err
		}
	}
	for _, s := range m.NormState() {
		if err := fill(s.Name+".running_mean", s.Mean); err != nil {
			return err
		}
		if err := fill(s.Name+".running_var", s.Var); err != nil {
			return err
		}
	}
	if opt != nil {
		for i, p := range m.Params() {
			if err := fill("optimizer."+p.Name+".momentum_buffer", opt.Velocity[i]); err != nil {
				return err
			}
		}
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
