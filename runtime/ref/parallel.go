package ref

import (
	"fmt"
	"math/bits"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"
)

// maxChunks bounds the number of pieces that work over a batch is cut into.
// It is a constant rather than GOMAXPROCS so that sums over the batch are
// added in the same order on every machine.
const maxChunks = 16

// numChunks is the number of contiguous chunks that n items are cut into.
func numChunks(n int) int { return min(n, maxChunks) }

// chunkBounds returns the items [lo, hi) of chunk i of n items cut into
// chunks pieces.
func chunkBounds(i, n, chunks int) (lo, hi int) {
	return i * n / chunks, (i + 1) * n / chunks
}

// Panic is a panic on a worker goroutine, raised again on the goroutine
// that waited for the work, so that a recover at a command's boundary
// sees it (a panic that ends a goroutine of its own kills the process):
// the value and the worker's stack when it panicked.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprint(p.Value) }

// CatchPanic, deferred by a worker goroutine, stores its panic, if any,
// in *p; the first one stored wins.
func CatchPanic(p *atomic.Pointer[Panic]) {
	if v := recover(); v != nil {
		if wp, ok := v.(*Panic); ok { // raised again by a nested wait
			p.CompareAndSwap(nil, wp)
			return
		}
		p.CompareAndSwap(nil, &Panic{v, debug.Stack()})
	}
}

// Repanic, called after waiting for the workers, panics with the *Panic
// one of them stored, if any.
func Repanic(p *atomic.Pointer[Panic]) {
	if wp := p.Load(); wp != nil {
		panic(wp)
	}
}

// forChunks cuts [0, n) into numChunks(n) contiguous chunks and calls
// f(chunk, lo, hi) for each, on min(GOMAXPROCS, chunks) goroutines. Chunks
// are started in increasing order. A panic of f is raised again on the
// caller's goroutine, as a *Panic.
func forChunks(n int, f func(chunk, lo, hi int)) {
	chunks := numChunks(n)
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for i := range chunks {
			lo, hi := chunkBounds(i, n, chunks)
			f(i, lo, hi)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var panicked atomic.Pointer[Panic]
	for range workers {
		wg.Go(func() {
			defer CatchPanic(&panicked)
			for {
				i := int(next.Add(1) - 1)
				if i >= chunks {
					return
				}
				lo, hi := chunkBounds(i, n, chunks)
				f(i, lo, hi)
			}
		})
	}
	wg.Wait()
	Repanic(&panicked)
}

// forRange runs f over [0, n) cut into numChunks(n) pieces, in parallel. It
// suits loops whose iterations are independent of each other.
func forRange(n int, f func(lo, hi int)) {
	forChunks(n, func(_, lo, hi int) { f(lo, hi) })
}

// pools hold scratch slices by element size (4 or 8 bytes) and size
// class: pools[e][k] holds slices of capacity 1<<k.
var pools [2][64]sync.Pool

func poolFor[T Float](n int) (*sync.Pool, int) {
	var z T
	e := 0
	if unsafe.Sizeof(z) == 8 {
		e = 1
	}
	k := bits.Len(uint(max(n, 1) - 1))
	return &pools[e][k], 1 << k
}

// getScratch returns a scratch slice of length n with unspecified
// contents. Give it back with putScratch.
func getScratch[T Float](n int) *[]T {
	p, size := poolFor[T](n)
	if s, ok := p.Get().(*[]T); ok {
		*s = (*s)[:n]
		return s
	}
	s := make([]T, n, size)
	return &s
}

// putScratch returns a slice obtained from getScratch to its pool.
func putScratch[T Float](s *[]T) {
	p, _ := poolFor[T](cap(*s))
	p.Put(s)
}

// checkLen panics unless len(s) == want.
func checkLen[T any](op, name string, s []T, want int) {
	if len(s) != want {
		panic(fmt.Sprintf("ref.%s: len(%s) = %d, want %d", op, name, len(s), want))
	}
}

// checkOpt is checkLen for an optional slice: nil is allowed.
func checkOpt[T any](op, name string, s []T, want int) {
	if s != nil {
		checkLen(op, name, s, want)
	}
}

// checkDims panics unless every dimension is positive.
func checkDims(op string, dims ...int) {
	for _, d := range dims {
		if d <= 0 {
			panic(fmt.Sprintf("ref.%s: dimensions %v must be positive", op, dims))
		}
	}
}
