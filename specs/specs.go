// Package specs embeds netc's example specs; mnist-resnet.spec is the
// default that the demo trains.
package specs

import (
	"embed"

	"github.com/netc/netc/spec"
)

// FS holds every *.spec file of this folder.
//
//go:embed *.spec
var FS embed.FS

// Default is the name of the demo's spec in FS.
const Default = "mnist-resnet.spec"

// Parse parses the spec of FS named name (Default, "resnet50.spec", ...).
func Parse(name string) (*spec.Spec, error) {
	src, err := FS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return spec.Parse(name, src)
}
