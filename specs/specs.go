// Package specs embeds netc's example specs; mnist-resnet.spec is the
// default that the demo trains.
package specs

import "embed"

// FS holds every *.spec file of this folder.
//
//go:embed *.spec
var FS embed.FS

// Default is the name of the demo's spec in FS.
const Default = "mnist-resnet.spec"
