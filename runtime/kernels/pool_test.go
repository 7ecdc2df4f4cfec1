package kernels

import (
	"errors"
	"strings"
	"testing"

	"github.com/netc/netc/runtime/ref"
)

// TestParallelPanics: a panic in a part that a pool worker runs is raised
// again on the caller's goroutine, as a *ref.Panic with the worker's
// stack, where a recover can see it (on the worker it would kill the
// process); the pool keeps working afterwards.
func TestParallelPanics(t *testing.T) {
	if Threads() < 2 {
		t.Skip("one thread: every part runs on the caller")
	}
	var got any
	func() {
		defer func() { got = recover() }()
		Parallel(Threads(), func(lo, hi int) {
			if lo > 0 {
				panic(errors.New("part on a worker"))
			}
		})
	}()
	p, ok := got.(*ref.Panic)
	if !ok || p.Error() != "part on a worker" || !strings.Contains(string(p.Stack), "pool_test.go") {
		t.Fatalf("recovered %#v, want a *ref.Panic with the worker's stack", got)
	}
	sum := make([]int, Threads())
	Parallel(len(sum), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sum[i] = i + 1
		}
	})
	for i, v := range sum {
		if v != i+1 {
			t.Fatalf("after the panic, Parallel left %v", sum)
		}
	}
}
