//go:build !linux

package kv

import "syscall"

// childAttr: elsewhere the lab kills its servers when it closes; a lab
// killed outright may leave them running.
func childAttr() *syscall.SysProcAttr { return nil }
