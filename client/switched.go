package client

import (
	"errors"
	"net"
)

// SwitchedConn is a connection the client handed over after 101 Switching Protocols
// or a 2xx answer to CONNECT: it left the pool and belongs to the caller, who must
// close it. It is a net.Conn (TCP, or TLS for https origins) whose Read returns first
// the bytes that arrived with the response head, then reads the connection.
type SwitchedConn struct {
	net.Conn
	buf []byte // received after the head, not read yet
}

// Read reads the bytes that came with the response head first, then the connection.
func (s *SwitchedConn) Read(p []byte) (int, error) {
	if len(s.buf) > 0 {
		n := copy(p, s.buf)
		s.buf = s.buf[n:]
		if len(s.buf) == 0 {
			s.buf = nil
		}
		return n, nil
	}
	return s.Conn.Read(p)
}

// Buffered returns how many bytes that arrived with the response head are still to be
// read.
func (s *SwitchedConn) Buffered() int { return len(s.buf) }

// TakeOver returns the connection underneath and the bytes that arrived with the
// response head and were not read yet, which the caller must handle first (a proxy
// writes them to the other side, then splices the two sockets). s must not be used
// afterwards.
func (s *SwitchedConn) TakeOver() (net.Conn, []byte) {
	b := s.buf
	s.buf = nil
	return s.Conn, b
}

// CloseWrite shuts down the writing side, so that the peer reads the end of the
// stream while the reading side stays open (a TCP half-close; a TLS close_notify).
func (s *SwitchedConn) CloseWrite() error {
	if cw, ok := s.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
