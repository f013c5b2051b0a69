//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package client

import (
	"syscall"
	"time"

	"github.com/hop-http/hop/internal/neterr"
)

// Results of peekState.
const (
	peekAlive  = iota // nothing to read: the connection is open and quiet
	peekData          // bytes are waiting (unsolicited data, a TLS alert, ...)
	peekClosed        // the peer closed (FIN) or reset (RST) the connection
)

// peek is the RawConn.Read callback: one non-blocking MSG_PEEK receive that leaves
// any data in the socket.
func (c *conn) peek(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	c.peekN, c.peekErr = n, err
	return true
}

// peekState looks at an idle connection without blocking and without consuming input:
// a FIN reads as end of file, an RST as an error, a quiet connection as EAGAIN.
// Connections that are not TCP are reported alive.
func (c *conn) peekState() int {
	if c.raw == nil {
		return peekAlive
	}
	for range 2 {
		c.peekN, c.peekErr = 0, nil
		err := c.raw.Read(c.peekFn)
		if err != nil {
			if neterr.IsTimeout(err) {
				// An old read deadline expired while the connection was idle: clear it
				// and look again.
				c.nc.SetReadDeadline(time.Time{})
				c.rd.Forget()
				continue
			}
			return peekClosed
		}
		switch {
		case c.peekN > 0:
			return peekData
		case c.peekErr == syscall.EAGAIN || c.peekErr == syscall.EINTR:
			return peekAlive
		default: // 0 bytes and no error: FIN; or ECONNRESET and friends
			return peekClosed
		}
	}
	return peekClosed
}

// alive is the liveness check run before an idle connection is reused: it notices a
// server's FIN or RST (and unsolicited data, which makes a plain connection unusable).
// On TLS connections, waiting bytes are handed to crypto/tls, which consumes
// post-handshake messages (session tickets) and reports a close_notify as EOF.
func (c *conn) alive() bool {
	switch c.peekState() {
	case peekAlive:
		return true
	case peekClosed:
		return false
	}
	if c.tls == nil {
		return false
	}
	for range 4 {
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		c.rd.Forget() // a short deadline is in force: the next read sets its own
		n, err := c.tls.Read(c.peekBuf[:])
		if n > 0 || err == nil {
			return false // application data nobody asked for
		}
		if !neterr.IsTimeout(err) {
			return false // close_notify, EOF, reset, bad record
		}
		switch c.peekState() {
		case peekAlive:
			return true
		case peekClosed:
			return false
		}
	}
	return false
}
