//go:build !linux

package main

import "os"

// isTerminal reports whether f is a terminal (progress lines are written only then).
// Outside Linux it checks for a character device, which /dev/null also is.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
