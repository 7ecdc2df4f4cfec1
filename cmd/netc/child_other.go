//go:build !linux

package main

import "syscall"

// childAttr puts a model binary in a process group of its own. (Only
// Linux has a parent-death signal: elsewhere a model binary outlives a
// netc killed with SIGKILL.)
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
