// Package rlimit raises the open-file limit for the benchmark programs, which hold
// thousands of sockets.
package rlimit

import "syscall"

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft
// limit. (Go programs already start with the soft limit raised; this makes it explicit
// and reports the value.)
func RaiseNoFile() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, err
		}
	}
	return rl.Cur, nil
}
