package cli

import (
	"runtime"
	"syscall"
)

// lockMemory keeps the process's memory out of swap so keys never reach disk.
func lockMemory() error {
	if runtime.GOOS != "linux" {
		return errNoMlock
	}
	return syscall.Mlockall(syscall.MCL_CURRENT | syscall.MCL_FUTURE)
}

func goVersion() string { return runtime.Version() }
