package main

import "syscall"

// childAttr puts a model binary in a process group of its own and has
// the kernel send it SIGTERM (it checkpoints and stops) when the thread
// that started it ends: when netc dies, even of SIGKILL.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
