package train

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// Factory builds the model of a spec with weights drawn from seed: the
// interpreter's (interp.NewModel) or a compiled package's (Compiled).
type Factory func(s *spec.Spec, seed uint64) (nn.Model, error)

// Compiled is the factory of a compiled model: it builds only the spec
// the model was compiled from (any spec of the same network, see
// spec.SameNetwork; nil means that one).
func Compiled[M nn.Model](newModel func(seed uint64) (M, error)) Factory {
	return func(s *spec.Spec, seed uint64) (nn.Model, error) {
		m, err := newModel(seed)
		if err != nil {
			return nil, err
		}
		if s != nil && !spec.SameNetwork(s, m.Spec()) {
			return nil, fmt.Errorf("%s is not the spec this model was compiled from (%s, model %s)", s.File, m.Spec().File, m.Spec().Model)
		}
		return m, nil
	}
}

// CheckpointPath is the checkpoint that arg names: a run folder's last
// checkpoint, or arg itself (a checkpoint file).
func CheckpointPath(arg string) string {
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
		return filepath.Join(arg, "checkpoints", "last.safetensors")
	}
	return arg
}

// LoadModel opens the checkpoint that arg names (CheckpointPath) and
// builds, with f, the model it holds, with its weights; memory is the
// memory one step of one image may need (see CheckMemory). It returns
// the model, the checkpoint's header and its path. Errors about the
// checkpoint (missing, not a checkpoint, a spec that does not parse, too
// large for the memory, tensors that do not fit) are InputErrors; a file
// the system cannot read and weights that are not finite (the training
// that wrote them failed: such a model has no accuracy) are not.
func LoadModel(f Factory, arg string, memory int64) (nn.Model, *Meta, string, error) {
	path := CheckpointPath(arg)
	c, err := OpenCheckpoint(path)
	if err != nil {
		return nil, nil, "", err
	}
	s, err := spec.Parse(path+"[spec]", []byte(c.Meta.Spec))
	if err != nil {
		return nil, nil, "", &InputError{fmt.Errorf("%s: its spec does not parse: %w", path, err)}
	}
	if err := CheckMemory(s, 1, memory); err != nil {
		return nil, nil, "", err
	}
	m, err := f(s, 0)
	if err != nil {
		return nil, nil, "", &InputError{err}
	}
	if err := c.Restore(m, nil); err != nil {
		return nil, nil, "", &InputError{err}
	}
	if err := nn.CheckFinite(m); err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w: the model cannot be used", path, err)
	}
	return m, &c.Meta, path, nil
}
