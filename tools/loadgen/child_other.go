//go:build !linux

package main

import "syscall"

// childAttr makes a helper process die with this one where the platform
// allows it.
func childAttr() *syscall.SysProcAttr { return nil }
