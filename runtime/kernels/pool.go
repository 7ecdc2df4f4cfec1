package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/netc/netc/runtime/ref"
)

// The worker pool: GOMAXPROCS persistent goroutines (read when the pool
// starts) that run the parts of Parallel calls. Work is split statically,
// so which part of a job a worker runs depends only on the job's size and
// the thread count, never on timing; kernels that keep results apart per
// part (or reduce them in part order) are bitwise repeatable.

type job struct {
	f            func(part, lo, hi int)
	part, lo, hi int
	wg           *sync.WaitGroup
	panicked     *atomic.Pointer[ref.Panic] // where a panic of f goes
}

// run runs the job on a worker, passing a panic of f to the caller.
func (j job) run() {
	defer j.wg.Done()
	defer ref.CatchPanic(j.panicked)
	j.f(j.part, j.lo, j.hi)
}

var pool struct {
	once    sync.Once
	workers int          // goroutines, the caller's included
	limit   atomic.Int64 // SetThreads
	jobs    chan job
}

func startPool() {
	pool.once.Do(func() {
		pool.workers = runtime.GOMAXPROCS(0)
		pool.limit.Store(int64(pool.workers))
		pool.jobs = make(chan job)
		for range pool.workers - 1 {
			go func() {
				for j := range pool.jobs {
					j.run()
				}
			}()
		}
	})
}

// Threads is the number of parts Parallel splits work into: GOMAXPROCS
// when the pool started, or what SetThreads chose.
func Threads() int {
	startPool()
	return int(pool.limit.Load())
}

// SetThreads makes Parallel use n threads (1 up to the pool's size) and
// returns the previous number; benchmarks use it to compare 1 and 2.
func SetThreads(n int) (old int) {
	startPool()
	return int(pool.limit.Swap(int64(max(1, min(n, pool.workers)))))
}

// Parallel runs f over [0, n) split into Threads() contiguous parts of
// near-equal size (fewer if n is smaller), the first on the calling
// goroutine, and returns when all are done. f(lo, hi) must touch only
// what indices lo..hi-1 own, and must not call Parallel itself. A panic
// of f on a worker is raised again on the caller's goroutine, as a
// *ref.Panic.
func Parallel(n int, f func(lo, hi int)) {
	parallelParts(n, func(_, lo, hi int) { f(lo, hi) })
}

// parts is how many parts Parallel splits n indices into.
func parts(n int) int { return max(1, min(n, Threads())) }

// parallelParts is Parallel, telling f which part (0 up to parts(n)) it runs.
func parallelParts(n int, f func(part, lo, hi int)) {
	parts := parts(n)
	if parts == 1 {
		if n > 0 {
			f(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	var panicked atomic.Pointer[ref.Panic]
	wg.Add(parts - 1)
	for i := 1; i < parts; i++ {
		pool.jobs <- job{f, i, i * n / parts, (i + 1) * n / parts, &wg, &panicked}
	}
	f(0, 0, n/parts)
	wg.Wait()
	ref.Repanic(&panicked)
}
