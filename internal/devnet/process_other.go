//go:build !linux

package devnet

import "syscall"

// childAttr is nil off Linux, which has no Pdeathsig: children outlive a
// devnet killed with kill -9, and the next run finds and stops them.
func childAttr() *syscall.SysProcAttr { return nil }
