// Command gen writes the assembly of package kernels with the asm
// generators (asm.RuntimeFiles): <family>_amd64.s and
// <family>_stubs_amd64.go for each family of asm.Runtime, and
// table_amd64.go, each ISA's table of kernels. Run it with go generate
// in runtime/kernels; its test checks the committed files are its
// output.
package main

import (
	"log"
	"os"

	"github.com/netc/netc/asm"
)

// generatedBy is the command go generate runs, for the files' header.
const generatedBy = "go run ./gen"

func main() {
	log.SetFlags(0)
	log.SetPrefix("kernels/gen: ")
	files, err := asm.RuntimeFiles("kernels", generatedBy)
	if err != nil {
		log.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
