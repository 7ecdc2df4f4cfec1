package main

import "syscall"

// childAttr puts a model binary in a process group of its own and has
// the kernel send it SIGHUP (it checkpoints and stops) when the thread
// that started it ends: when netc dies, even of SIGKILL. Not SIGTERM: the
// kernel sends the signal again each time the child passes to another of
// the dying netc's threads, and a second SIGTERM quits at once
// (cli.Interruptible), while further SIGHUPs are ignored.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGHUP}
}
