# netc: common tasks. Everything needs only Go.

.PHONY: all build test demo vet generate fuzz torch bench bench-compare profile embedded-model reproduce-mnist reproduce-cifar clean

all: build

build:
	go build -o bin/netc ./cmd/netc

# The README's test command: every test.
test:
	go test ./...

# Adversarially train the default spec on real MNIST and evaluate it.
demo:
	go run ./cmd/netc demo

# Rewrite the generated assembly (asm generators -> runtime/kernels).
generate:
	go generate ./...

# This CPU's FMA peak and the conv kernels' speed on ResNet-20/50 shapes.
bench:
	go run ./cmd/netc bench kernels --batch 32

# One PGD-10 adversarial training step of ResNet-20 (CIFAR) at batch 128:
# images per second, and the share of its CPU time in the assembly kernels.
PROF := $(or $(TMPDIR),/tmp)/netc-step
profile:
	go test -run '^$$' -bench AdversarialStep -benchtime 8x -cpuprofile $(PROF).prof -o $(PROF).test ./runtime/train
	@go tool pprof -top -nodefraction=0 -nodecount=100000 $(PROF).test $(PROF).prof 2>/dev/null | \
		awk '/AVX/ {gsub("%", "", $$2); s += $$2} END {printf "CPU time in assembly kernels: %.1f%%\n", s}'

vet:
	gofmt -l $$(git ls-files '*.go')
	go vet ./...

# Fuzz every parser: each target FUZZEXECS times (default 1000000x; a
# duration such as 5m works too), printing the executions per target.
fuzz:
	.ci/fuzz

# SIGKILL a short training run at 40 random moments (many while a
# checkpoint is written), resume it each time, and compare its final
# weights and metrics.jsonl with an uninterrupted run's (internal/killtest).
.PHONY: killtest
killtest:
	go run ./internal/killtest

# Debian's PyTorch (CPU), for the interpreter's cross-check test
# (runtime/interp TestMatchesPyTorch skips without it).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
torch:
	@/usr/bin/python3 -c 'import torch' 2>/dev/null || \
		($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch)

# ResNet-20 (CIFAR) images/s, netc vs PyTorch at 1 and 2 threads -> bench/compare.json.
bench-compare: torch
	go run ./bench/compare

# Retrain the MNIST model embedded in generated/mnistresnet (netc demo's
# adversarial run) and recompile the package with its weights.
embedded-model:
	go run ./cmd/netc demo --out runs/demo
	go run ./cmd/netc compile --weights runs/demo/adversarial specs/mnist-resnet.spec -o generated/mnistresnet

# The paper's experiments at small scale (resumable; docs/REPRODUCTION.md).
reproduce-mnist:
	go run ./cmd/netc reproduce mnist

CIFAR_DATA ?= ../shared/data
reproduce-cifar:
	@[ -d runs/cifar10/train ] || (mkdir -p runs/cifar10 && tar -xzf $(CIFAR_DATA)/cifar10-train.tar.gz -C runs/cifar10 && tar -xzf $(CIFAR_DATA)/cifar10-test.tar.gz -C runs/cifar10)
	go run ./cmd/netc reproduce cifar --data cifar10:runs/cifar10

clean:
	rm -rf bin runs
