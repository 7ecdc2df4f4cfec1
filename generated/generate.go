// Package generated holds the Go packages netc compiles from the specs in
// specs/ that users and tests run, each with its model binary in cmd/: go
// generate rebuilds them (and .ci/run fails if that changes a file).
// Package mnistresnet embeds the weights of an adversarially trained
// model (netc demo's recipe, PGD ε = 0.3); make embedded-model retrains
// them. resnet20cifar and resnet50 refer to the library of specialized
// kernels (runtime/kernels/special) for all their convolutions. The
// tests compile the other specs (the deeper ImageNet ResNets, and all of
// them at 32×32) into a temporary folder.
package generated

//go:generate go run ../cmd/netc compile --weights mnistresnet/weights.ckpt ../specs/mnist-resnet.spec -o mnistresnet
//go:generate go run ../cmd/netc compile ../specs/resnet20-cifar.spec -o resnet20cifar
//go:generate go run ../cmd/netc compile ../specs/resnet50.spec -o resnet50
