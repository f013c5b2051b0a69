//go:build !linux

package rawio

import (
	"errors"
	"net"
)

var errUnsupported = errors.New("rawio: raw I/O is implemented on Linux only")

// Conn is the Linux raw I/O handle; here Attach always reports false and the caller
// keeps using the net.Conn.
type Conn struct{}

// Attach reports false: raw I/O is Linux-only.
func (c *Conn) Attach(net.Conn) bool { return false }

// Detach does nothing.
func (c *Conn) Detach() {}

// Attached reports false.
func (c *Conn) Attached() bool { return false }

// Read fails: Attach never succeeds here.
func (c *Conn) Read([]byte) (int, error) { return 0, errUnsupported }

// Write fails: Attach never succeeds here.
func (c *Conn) Write([]byte) (int, error) { return 0, errUnsupported }

// WriteBuffers fails: Attach never succeeds here.
func (c *Conn) WriteBuffers(...[]byte) (int64, error) { return 0, errUnsupported }

// SendFile fails: Attach never succeeds here.
func (c *Conn) SendFile(int, int64, int64, bool) (int64, error) { return 0, errUnsupported }

// SetCork does nothing.
func (c *Conn) SetCork(bool) {}

// SetCork does nothing.
func SetCork(*net.TCPConn, bool) {}
