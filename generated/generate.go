// Package generated holds the Go packages netc compiles from the specs in
// specs/, each with its model binary in cmd/: go generate rebuilds them
// (and .ci/run fails if that changes a file). Package mnistresnet embeds
// the weights of an adversarially trained model (netc demo's recipe,
// PGD ε = 0.3); make embedded-model retrains them. Package internal/reduced
// holds the ImageNet specs compiled at a 32×32 input, for the tests
// that check every compiled model against the interpreter.
package generated

//go:generate go run ../cmd/netc compile --weights mnistresnet/weights.ckpt ../specs/mnist-resnet.spec -o mnistresnet
//go:generate go run ../cmd/netc compile ../specs/resnet20-cifar.spec -o resnet20cifar
//go:generate go run ../cmd/netc compile ../specs/resnet50.spec -o resnet50
//go:generate go run ../cmd/netc compile ../specs/resnet152.spec -o resnet152
//go:generate go run ../cmd/netc compile ../specs/resnet152-gn.spec -o resnet152gn
//go:generate go run ../cmd/netc compile ../specs/resnet338.spec -o resnet338
//go:generate go run ../cmd/netc compile ../specs/resnet638.spec -o resnet638
//go:generate go run ../cmd/netc compile --input 3,32,32 ../specs/resnet50.spec -o internal/reduced/resnet50
//go:generate go run ../cmd/netc compile --input 3,32,32 ../specs/resnet152.spec -o internal/reduced/resnet152
//go:generate go run ../cmd/netc compile --input 3,32,32 ../specs/resnet152-gn.spec -o internal/reduced/resnet152gn
//go:generate go run ../cmd/netc compile --input 3,32,32 ../specs/resnet338.spec -o internal/reduced/resnet338
//go:generate go run ../cmd/netc compile --input 3,32,32 ../specs/resnet638.spec -o internal/reduced/resnet638
