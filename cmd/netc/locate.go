package main

import (
	"github.com/netc/netc/runtime/cli"
	"github.com/netc/netc/runtime/diag"
)

// netc runs models on the interpreter too: an evaluation in process
// (--interp) that meets a NaN or an infinity names the first layer
// whose output is not finite.
func init() { cli.Locate = diag.FirstNonFinite }
