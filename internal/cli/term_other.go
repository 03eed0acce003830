//go:build !linux

package cli

import "os"

// isTerminal reports whether f is a terminal; without terminal support on
// this platform every stream is treated as a pipe.
func isTerminal(*os.File) bool { return false }

// readSecret reads one line from f.
func readSecret(f *os.File) (string, error) { return readLine(f) }
