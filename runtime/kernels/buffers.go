package kernels

import "sync"

// bufPool is a pool of scratch slices of T, for buffers a kernel needs
// during one call.
type bufPool[T any] struct{ sync.Pool }

// get returns a slice of n values (not cleared); put gives it back.
func (p *bufPool[T]) get(n int) *[]T {
	if b, ok := p.Get().(*[]T); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]T, n)
	return &b
}

func (p *bufPool[T]) put(b *[]T) { p.Put(b) }

var (
	floats bufPool[float32]
	sums   bufPool[float64]
)

// sumPair returns two scratch vectors of n float64 and the function that
// gives them back.
func sumPair(n int) (a, b []float64, release func()) {
	pa, pb := sums.get(n), sums.get(n)
	return *pa, *pb, func() { sums.put(pa); sums.put(pb) }
}
