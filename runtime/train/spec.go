package train

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netc/netc/runtime/data"
	"github.com/netc/netc/runtime/nn"
	"github.com/netc/netc/spec"
)

// DefaultCheckpointEvery is how often a run of netc's checkpoints within
// an epoch unless told otherwise (Options.CheckpointEvery).
const DefaultCheckpointEvery = 10 * time.Minute

// Options are the settings of RunSpec that are not the run's Config
// (which config.json keeps): they may change from one start of a run to
// the next.
type Options struct {
	// TestLimit, if > 0, measures the clean accuracy on the first
	// TestLimit images of the data's test split after each epoch.
	TestLimit int
	// CheckpointEvery also checkpoints within an epoch this often (0: at
	// the end of epochs only).
	CheckpointEvery time.Duration
	// Memory is the memory a training step may need (0: the machine's;
	// see CheckMemory).
	Memory int64
	// Quiet prints no progress.
	Quiet bool
}

// RunSpec trains, or resumes, the run of spec s in folder dir, on a
// model that f builds, until it has trained c.Epochs epochs or ctx is
// done (then it checkpoints where it stands and returns an error
// wrapping ctx's); it returns the model. It checks first that a step
// fits in memory and that the data fit s. Errors about its input (the
// spec, the data, the settings, the run folder's checkpoint) are
// InputErrors; a run that met NaN or Inf stops with an error wrapping
// ErrNonFinite, its last good checkpoint kept.
func RunSpec(ctx context.Context, f Factory, s *spec.Spec, c Config, dir string, o Options) (nn.Model, error) {
	if err := CheckMemory(s, c.StepImages(), o.Memory); err != nil {
		return nil, err
	}
	m, err := f(s, c.Seed)
	if err != nil {
		return nil, &InputError{err}
	}
	trainSet, err := data.Load(c.Data, "train")
	if err != nil {
		return nil, &InputError{err}
	}
	if err := data.Compatible(s, trainSet); err != nil {
		return nil, &InputError{err}
	}
	r := &Run{Dir: dir, Config: c, Model: m, Data: trainSet, CheckpointEvery: o.CheckpointEvery, Quiet: o.Quiet}
	if o.TestLimit > 0 {
		if r.Test, err = data.Load(c.Data, "test"); err != nil {
			return nil, &InputError{err}
		}
		if err := data.Compatible(s, trainSet, r.Test); err != nil {
			return nil, &InputError{err}
		}
		r.TestLimit = o.TestLimit
	}
	if err := r.Start(); err != nil {
		return nil, err
	}
	defer r.Close()
	if err := r.Train(ctx); err != nil {
		if errors.Is(err, ErrNonFinite) {
			return nil, fmt.Errorf("training stopped: %w", err)
		}
		return nil, err
	}
	r.logf("checkpoint: %s", r.CheckpointPath())
	return m, nil
}
