package generated_test

import (
	"testing"

	"github.com/netc/netc/generated/internal/modelcheck"
	"github.com/netc/netc/generated/mnistresnet"
	"github.com/netc/netc/generated/resnet20cifar"
)

// compiled are the committed models the tests run, with the batch each
// runs (compile_test.go compiles and checks the other specs).
var compiled = []struct {
	name  string
	new   modelcheck.New
	batch int
}{
	{"mnistresnet", modelcheck.Wrap(mnistresnet.New), 4},
	{"resnet20cifar", modelcheck.Wrap(resnet20cifar.New), 4},
}

func TestMain(m *testing.M) { modelcheck.Main(m) }

// TestCompiledMatchesInterpreter checks every committed model against
// the interpreter (modelcheck.MatchesInterpreter).
func TestCompiledMatchesInterpreter(t *testing.T) {
	for _, c := range compiled {
		t.Run(c.name, func(t *testing.T) { modelcheck.MatchesInterpreter(t, c.new, c.batch) })
	}
}
