package server

// The connection's byte I/O. On plain TCP under Linux it goes through internal/rawio
// (raw non-blocking system calls, waiting in Go's poller); elsewhere (TLS, other
// systems, test doubles) through the net.Conn.

// read reads into p like net.Conn.Read.
func (c *conn) read(p []byte) (int, error) {
	if c.rio.Attached() && len(p) > 0 {
		return c.rio.Read(p)
	}
	return c.nc.Read(p)
}

// write writes all of p like net.Conn.Write.
func (c *conn) write(p []byte) (int, error) {
	if c.rio.Attached() {
		return c.rio.Write(p)
	}
	return c.nc.Write(p)
}

// writeBuffers writes the pending output, then p, then tail (may be nil), in one gather
// write where the connection allows, without allocating.
func (c *conn) writeBuffers(p, tail []byte) error {
	c.setWriteDeadline()
	var err error
	if c.rio.Attached() {
		_, err = c.rio.WriteBuffers(c.wbuf, p, tail)
	} else {
		c.bufs = append(c.iov[:0], c.wbuf, p, tail)
		_, err = c.bufs.WriteTo(c.nc)
		clear(c.iov[:])
	}
	c.wbuf = c.wbuf[:0]
	c.w.sent = c.w.committed
	if err != nil {
		c.writeFailed()
	}
	return err
}
