// Command gen writes the assembly of package kernels with the asm
// generators: <family>_amd64.s and <family>_stubs_amd64.go for each family
// of asm.Runtime, and outer_table_amd64.go, the table of outer kernels.
// Run it with go generate.
package main

import (
	"log"
	"os"

	"github.com/netc/netc/asm"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("kernels/gen: ")
	for _, f := range asm.Runtime {
		s, stubs, err := asm.Generate("kernels", f.Gens...)
		if err != nil {
			log.Fatalf("%s: %v", f.Name, err)
		}
		if err := os.WriteFile(f.Name+"_amd64.s", s, 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(f.Name+"_stubs_amd64.go", stubs, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	table, err := asm.OuterTable("kernels")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("outer_table_amd64.go", table, 0o644); err != nil {
		log.Fatal(err)
	}
}
