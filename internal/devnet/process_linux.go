package devnet

import "syscall"

// childAttr ties a child to the devnet's lifetime: the kernel kills it
// when the thread that started it exits (see spawner).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
