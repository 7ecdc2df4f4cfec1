package ref

// ReLU sets y = max(x, 0). x and y may alias.
func ReLU[T Float](x, y []T) {
	checkLen("ReLU", "y", y, len(x))
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// ReLUBackward sets dx = dy where the ReLU's output y > 0, else 0. The
// slices may alias.
func ReLUBackward[T Float](y, dy, dx []T) {
	checkLen("ReLUBackward", "dy", dy, len(y))
	checkLen("ReLUBackward", "dx", dx, len(y))
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// Add sets y = a + b. The slices may alias.
func Add[T Float](a, b, y []T) {
	checkLen("Add", "b", b, len(a))
	checkLen("Add", "y", y, len(a))
	for i, v := range a {
		y[i] = v + b[i]
	}
}
