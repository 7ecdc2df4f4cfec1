// Package kernels holds netc's fast kernels: assembly written by the
// generators of package asm (AVX2+FMA and AVX-512F), pure-Go fallbacks,
// and the choice between them for this CPU.
package kernels

//go:generate go run ./gen
