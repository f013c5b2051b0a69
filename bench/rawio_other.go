//go:build !linux

package bench

import "net"

// rawIO is only implemented on Linux; elsewhere connections use net.Conn directly.
type rawIO struct{ attached bool }

func (r *rawIO) attach(c net.Conn) bool     { return false }
func (r *rawIO) detach()                    {}
func (r *rawIO) read(p []byte) (int, error) { panic("bench: raw I/O not attached") }
func (r *rawIO) write(p []byte) error       { panic("bench: raw I/O not attached") }
