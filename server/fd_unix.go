//go:build unix

package server

import (
	"net"
	"os"
	"syscall"
)

// dupCloexec duplicates fd with close-on-exec set.
func dupCloexec(fd int) (int, error) {
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(nfd), nil
}

// attachFD turns a detached descriptor back into a net.Conn (which owns a new
// duplicate) and closes fd.
func attachFD(fd int) (net.Conn, error) {
	// A blocking descriptor keeps os.NewFile from registering it with the poller;
	// net.FileConn's duplicate is made non-blocking again.
	syscall.SetNonblock(fd, false)
	f := os.NewFile(uintptr(fd), "tcp")
	nc, err := net.FileConn(f)
	f.Close()
	return nc, err
}

func closeFD(fd int) { syscall.Close(fd) }
