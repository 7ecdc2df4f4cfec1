// Command gen writes the assembly of package kernels with the asm
// generators: kernels_amd64.s and stubs_amd64.go. Run it with go generate.
package main

import (
	"log"
	"os"

	"github.com/netc/netc/asm"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("kernels/gen: ")
	s, stubs, err := asm.Generate("kernels", asm.Runtime...)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("kernels_amd64.s", s, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("stubs_amd64.go", stubs, 0o644); err != nil {
		log.Fatal(err)
	}
}
