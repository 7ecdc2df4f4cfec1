module github.com/netc/netc

go 1.26
