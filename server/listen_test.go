//go:build linux

package server_test

import (
	"net"
	"syscall"
	"testing"

	"github.com/hop-http/hop/server"
)

// keepAliveOn reports whether SO_KEEPALIVE is set on the connection's socket.
func keepAliveOn(t *testing.T, nc net.Conn) bool {
	t.Helper()
	rc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if gerr != nil {
		t.Skipf("getsockopt SO_KEEPALIVE: %v", gerr)
	}
	return v != 0
}

// acceptOne dials ln and returns the server's side of the connection.
func acceptOne(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

// TestListenNoKeepAliveProbes: connections accepted from server.Listen (and from
// ListenReusePort) carry no TCP keep-alive probes, unlike net.Listen's, which set them
// with four system calls per connection.
func TestListenNoKeepAliveProbes(t *testing.T) {
	ln, err := server.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if keepAliveOn(t, acceptOne(t, ln)) {
		t.Error("server.Listen: SO_KEEPALIVE set on an accepted connection")
	}
	lns, err := server.ListenReusePort("tcp", "127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lns[0].Close()
	if keepAliveOn(t, acceptOne(t, lns[0])) {
		t.Error("ListenReusePort: SO_KEEPALIVE set on an accepted connection")
	}
	// The reference: Go's default turns the probes on.
	std, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer std.Close()
	if !keepAliveOn(t, acceptOne(t, std)) {
		t.Error("net.Listen: SO_KEEPALIVE not set; the test cannot tell the difference")
	}
}
