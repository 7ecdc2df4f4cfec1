// Package ref is the plain-Go reference implementation of netc's ops: the
// oracle for every kernel and the engine of the interpreter.
//
// Every op is generic over [Float]: float32 for training, float64 for
// gradient checks. Tensors are flat slices in row-major order (NCHW for
// images). Ops overwrite their outputs unless a doc comment says otherwise;
// slice lengths are checked on entry and a wrong length panics, naming the
// op and the expected length.
//
// Work over a batch is cut into a number of contiguous chunks that depends
// only on the batch size, and sums over the batch are added in chunk order,
// so every result is bitwise identical for any GOMAXPROCS.
package ref

// Float is the element type: float32 for training, float64 for gradient
// checks.
type Float interface{ ~float32 | ~float64 }
