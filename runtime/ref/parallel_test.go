package ref

import (
	"runtime"
	"strings"
	"testing"
)

// TestForChunksPanics: a panic in a chunk run on a worker goroutine is
// raised again on the caller's, as a *Panic with the worker's stack.
func TestForChunksPanics(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one thread: every chunk runs on the caller")
	}
	var got any
	func() {
		defer func() { got = recover() }()
		forChunks(maxChunks, func(chunk, lo, hi int) {
			if chunk == maxChunks-1 {
				panic("last chunk")
			}
		})
	}()
	p, ok := got.(*Panic)
	if !ok || p.Value != "last chunk" || !strings.Contains(string(p.Stack), "parallel_test.go") {
		t.Fatalf("recovered %#v, want a *Panic with the worker's stack", got)
	}
}
