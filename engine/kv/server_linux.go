package kv

import "syscall"

// childAttr puts a server in its own process group, so a Ctrl-C at the
// terminal reaches the lab (which kills its nodes in order) and not the
// servers directly, and has the kernel kill it if the lab dies without
// closing (SIGKILL to the lab, a crash).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
