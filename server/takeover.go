package server

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"time"
)

// TakeOver errors.
var (
	// ErrTakenOver is returned by a second TakeOver.
	ErrTakenOver = errors.New("hop/server: connection already taken over")
	// ErrCannotTakeOver is returned by TakeOver when the response already started or
	// its status does not switch protocols; the wrapped text says which.
	ErrCannotTakeOver = errors.New("hop/server: cannot take the connection over")
)

// TakeOver ends HTTP on the connection and hands it to the handler: for a CONNECT
// tunnel, for the protocol a 101 Switching Protocols switches to, or for any handler
// that speaks for itself (net/http's Hijack is built on it). It returns the
// connection, plain TCP or TLS, and a copy of the bytes the server had already read
// past what the handler consumed: the first bytes of the tunnel or of the new
// protocol (an unread request body would come first, still framed).
//
// What goes out before the handover depends on the status set with WriteHeader:
//
//   - 101 Switching Protocols, to an HTTP/1.1 request that asked to upgrade
//     (Connection: upgrade and Upgrade), with the Upgrade field set by the handler:
//     the 101 head with the handler's fields and Connection: upgrade.
//   - a 2xx to CONNECT: that head, without Content-Length or Transfer-Encoding (RFC
//     9110 §9.3.6); the tunnel starts right after it.
//   - no status set: nothing; the handler writes first (as after net/http's Hijack).
//
// Responses to earlier pipelined requests, and interim responses, are written first.
// TakeOver fails with an error wrapping ErrCannotTakeOver, and the response is then
// sent as usual, when the head was already committed, body bytes were written or
// partly read, another status was set, or a 101 does not meet the conditions above;
// it fails with the write error when the connection is broken.
//
// After TakeOver the server forgets the connection: it sets no more deadlines (the
// ones in force are cleared), it does not close it on Shutdown or Close (which do not
// wait for it either), and Stats counts it as taken over. Closing it is the handler's
// job. The Request's fields stay readable until the handler returns; its Body and the
// ResponseWriter must not be used.
func (w *ResponseWriter) TakeOver() (net.Conn, []byte, error) {
	c := w.c
	if c.phase == phaseTakenOver {
		return nil, nil, ErrTakenOver
	}
	if err := w.checkTakeOver(); err != nil {
		return nil, nil, err
	}
	if c.dead {
		return nil, nil, errConnDead
	}
	if c.watch.active {
		c.stopWatch() // keeps a byte the watch read
		if c.dead {
			return nil, nil, errConnDead
		}
	}
	if w.statusSet {
		w.switching = true
		w.applyHeaderControls()
		c.wbuf = w.appendHead(c.wbuf, -1)
	}
	w.committed = true
	if len(c.wbuf) > 0 && !c.flush() {
		return nil, nil, errConnDead
	}
	c.nc.SetDeadline(time.Time{})
	var rest []byte
	if n := c.in.Len(); n > 0 {
		rest = bytes.Clone(c.in.Take(n))
	}
	s := c.srv
	if c.idle != nil {
		if p := s.parker.Load(); p != nil {
			p.Forget(c.idle.fd) // it may still be in the epoll set from an earlier park
		}
	}
	c.phase = phaseTakenOver
	c.enter(StateTakenOver)
	s.stats.takenOver.Add(1)
	s.untrackConn(c, true)
	return c.nc, rest, nil
}

// checkTakeOver says why the response cannot be taken over, if it cannot.
func (w *ResponseWriter) checkTakeOver() error {
	req := w.req
	b := &req.body
	switch {
	case w.committed:
		return cannot("the response head was already sent")
	case len(w.body) > 0:
		return cannot("body bytes were written")
	case b.total > 0 && !b.eof:
		return cannot("the request body was partly read")
	case !w.statusSet:
		return nil
	case w.status == 101:
		switch {
		case req.Minor == 0:
			return cannot("101 to an HTTP/1.0 request")
		case !req.Upgrade:
			return cannot("101 to a request without Connection: upgrade and Upgrade")
		case !w.header.Has("Upgrade"):
			return cannot("101 without an Upgrade field")
		}
		return nil
	case w.status/100 == 2 && req.IsMethod("CONNECT"):
		return nil
	}
	return cannot("status " + strconv.Itoa(w.status) + " does not switch protocols")
}

func cannot(why string) error { return &takeOverError{why} }

type takeOverError struct{ why string }

func (e *takeOverError) Error() string { return ErrCannotTakeOver.Error() + ": " + e.why }
func (e *takeOverError) Unwrap() error { return ErrCannotTakeOver }
