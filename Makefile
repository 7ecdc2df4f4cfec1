# netc: common tasks. Everything needs only Go.

.PHONY: all build test demo vet generate fuzz torch clean

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

vet:
	gofmt -l $$(git ls-files '*.go')
	go vet ./...

# Fuzz the parsers (FUZZTIME=5m by default).
FUZZTIME ?= 5m
fuzz:
	go test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./spec
	go test -run='^$$' -fuzz=FuzzLoad -fuzztime=$(FUZZTIME) ./runtime/ckpt
	go test -run='^$$' -fuzz=FuzzIDX -fuzztime=$(FUZZTIME) ./runtime/data

# Debian's PyTorch (CPU), for the interpreter's cross-check test
# (runtime/interp TestMatchesPyTorch skips without it).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
torch:
	@/usr/bin/python3 -c 'import torch' 2>/dev/null || \
		($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch)

clean:
	rm -rf bin runs
