// Package deps holds the test that keeps the generators out of what the
// runtime and the model binaries link (see deps_test.go).
package deps
