// Command gen writes the library of specialized kernels, package
// special, with asm.Library: the forward kernels of every convolution
// shape of the standard specs below (the ImageNet ResNets at 224×224, all
// of which share their shapes, and ResNet-20 and WRN-28-10 for CIFAR at
// 32×32), which
// compiled models refer to instead of carrying them. Run it with go
// generate in runtime/kernels/special; its test checks the committed
// files are its output.
package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/netc/netc/asm"
	"github.com/netc/netc/compiler"
	"github.com/netc/netc/spec"
)

// generatedBy is the command go generate runs, for the files' header.
const generatedBy = "go run ./gen"

// specs are the standard specs whose shapes the library holds, relative
// to package special.
var specs = []string{
	"../../../specs/resnet20-cifar.spec",
	"../../../specs/resnet50.spec",
	"../../../specs/resnet152.spec",
	"../../../specs/resnet152-gn.spec",
	"../../../specs/resnet338.spec",
	"../../../specs/resnet638.spec",
	"../../../specs/wrn28-10-cifar.spec",
}

// files generates the library's files from specs, read relative to dir.
func files(dir string) (map[string][]byte, error) {
	var convs []asm.ConvSpec
	for _, name := range specs {
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		s, err := spec.Parse(path, src)
		if err != nil {
			return nil, err
		}
		g, err := compiler.Lower(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		shapes, _ := asm.ModelConvs(g)
		convs = append(convs, shapes...)
	}
	return asm.Library("special", generatedBy, convs)
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("special/gen: ")
	fs, err := files(".")
	if err != nil {
		log.Fatal(err)
	}
	for name, b := range fs {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
