module github.com/netc/netc

go 1.26.0

require (
	github.com/dave/jennifer v1.7.1
	github.com/google/renameio/v2 v2.0.2
	github.com/mmcloughlin/avo v0.5.0
	golang.org/x/mod v0.6.0
	golang.org/x/sys v0.50.0
)

require golang.org/x/tools v0.2.0 // indirect
