//go:build !linux

package server

import "net"

// rawIO is used on Linux only; elsewhere connections use net.Conn's methods.
type rawIO struct{}

func (r *rawIO) setup(net.Conn) {}
func (r *rawIO) release()       {}

func (c *conn) read(p []byte) (int, error)  { return c.nc.Read(p) }
func (c *conn) write(p []byte) (int, error) { return c.nc.Write(p) }

func setCork(*net.TCPConn, bool) {}
