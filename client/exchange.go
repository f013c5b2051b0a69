package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/hop-http/hop/internal/clock"
	"github.com/hop-http/hop/internal/neterr"
	"github.com/hop-http/hop/wire"
)

// errBufferFull is returned by fill when a head or framing line exceeds the limit.
var errBufferFull = errors.New("hop/client: response head or framing line too large")

// errTooMany1xx is returned when more than max1xx informational responses precede the
// final one.
var errTooMany1xx = errors.New("hop/client: too many informational (1xx) responses")

// errContinueTimeout ends the wait for 100 Continue: the server did not answer in
// time, so the body is sent anyway.
var errContinueTimeout = errors.New("hop/client: no answer to Expect: 100-continue in time")

// headLimit is how large the read buffer may grow while a head is incomplete.
func (c *conn) headLimit() int { return c.cl.Limits.MaxHead() }

// readHead is the one loop that reads response heads, for exchanges, pipelines and
// CONNECT tunnels. It parses heads into c.head until a final one: a status of 200 or
// more, or 101 (the caller decides whether switching protocols was asked for). Every
// head is reported to Trace.GotHead; informational ones are consumed, reported to
// Trace.Got1xx (and 100 to Got100Continue) and counted, at most max1xx per exchange.
// With untilContinue (a request with Expect: 100-continue), a 100 Continue ends the
// wait too, and so does the end of that wait (errContinueTimeout). It returns the
// length of the final head, which is c.in.Bytes()[:n] and not consumed yet; 0 after a
// 100 Continue.
func (c *conn) readHead(untilContinue bool) (int, error) {
	if !c.gotByte && c.in.Len() > 0 {
		c.firstByte() // the response arrived with an earlier one (pipelining)
	}
	for {
		n, err := c.parser.ParseResponse(c.in.Bytes(), &c.head, unsafeBytes(c.method))
		if err == wire.ErrNeedMore {
			if err := c.fill(c.headLimit()); err != nil {
				c.parser.Reset()
				if untilContinue && c.continueExpired(err) {
					return 0, errContinueTimeout
				}
				return 0, err
			}
			continue
		}
		if err != nil {
			c.parser.Reset()
			return 0, err
		}
		tr := c.tr
		if tr != nil && tr.GotHead != nil {
			tr.GotHead(c.in.Bytes()[:n])
		}
		st := c.head.Status
		if st >= 200 || st == 101 {
			return n, nil
		}
		if c.n1xx++; c.n1xx > max1xx {
			return 0, errTooMany1xx
		}
		if tr != nil {
			if tr.Got1xx != nil {
				if err := tr.Got1xx(st, &c.head.Header); err != nil {
					return 0, err
				}
			}
			if st == 100 && tr.Got100Continue != nil {
				tr.Got100Continue()
			}
		}
		c.in.Consume(n)
		if st == 100 && untilContinue {
			return 0, nil
		}
	}
}

// continueExpired reports whether err is the end of the wait for 100 Continue, rather
// than a failure: a timeout at the wait's limit, before the exchange's deadline and
// without cancellation.
func (c *conn) continueExpired(err error) bool {
	if !neterr.IsTimeout(err) || c.rdLimit.IsZero() || c.checkCanceled() != nil {
		return false
	}
	now := time.Now()
	return !now.Before(c.rdLimit) && (c.deadline.IsZero() || now.Before(c.deadline))
}

// awaitContinue waits for the server's answer to Expect: 100-continue, for at most
// ExpectContinueTimeout (no separate limit when that is negative). It returns the
// length of a final head that came instead (the body is then not sent), 0 after a
// 100 Continue, and errContinueTimeout when the wait ended without an answer.
func (c *conn) awaitContinue() (int, error) {
	if w := c.cl.expectTimeout(); w > 0 {
		c.rdLimit = time.Now().Add(w)
	}
	n, err := c.readHead(true)
	if !c.rdLimit.IsZero() {
		c.rdLimit = time.Time{}
		c.rd.Forget() // the deadline in force may be the wait's: set it anew
	}
	return n, err
}

// exchange sends req on c and reads the final response head into resp. On success the
// body is ready to read through resp.stream, and the exchange ends when the body
// does (or at once, when the connection switched protocols). On failure the
// connection is already closed and the error is a *connErr.
func (c *conn) exchange(req *Request, resp *Response, cur *bodyCursor, absolute bool, proxyAuth string) error {
	c.requests++
	c.times = &resp.Timings
	c.upgrade = req.upgrading()
	length := req.ContentLength()
	c.target = req.appendTarget(c.target[:0], absolute)
	head, closing := req.appendHead(c.wbuf[:0], c.target, proxyAuth, length)
	c.wbuf = head
	c.reqClose = closing
	headLen := len(head)
	tr := c.tr

	sendBody := req.hasBody && length != 0
	expect := sendBody && req.Fields().HasToken("Expect", "100-continue")
	var werr error
	switch {
	case !sendBody || expect:
		werr = c.write(c.wbuf)
	case req.bodyStream == nil && len(req.body) <= inlineBody:
		var err error
		if c.wbuf, err = req.appendBody(c.wbuf, length); err != nil {
			return c.abort(err)
		}
		werr = c.write(c.wbuf)
		sendBody = false
	default:
		werr = c.write(c.wbuf)
	}
	if werr == nil && tr != nil && tr.WroteHead != nil {
		tr.WroteHead(c.wbuf[:headLen])
	}
	if werr == nil && expect {
		n, err := c.awaitContinue()
		switch {
		case err == errContinueTimeout:
		case err != nil:
			return c.fail("read response", err)
		case n > 0:
			// The server answered without wanting the body: it is not sent, so the
			// connection cannot carry another request (unless it switches protocols).
			c.dead = true
			c.wroteRequest(nil)
			return c.startBody(resp, n)
		}
	}
	if werr == nil && sendBody {
		werr = c.sendBody(req, cur, length)
		if werr != nil && !isWriteErr(werr) {
			// The caller's body failed: the request cannot be completed.
			return c.abort(werr)
		}
	}
	werr = unwrapWrite(werr)
	c.wroteRequest(werr)
	if werr != nil {
		// The server may have answered (say 413) and closed before reading all of the
		// request: read what it sent before reporting the write error.
		c.dead = true
		if c.gotByte || c.in.Len() > 0 || c.peekReadable() {
			if n, err := c.readHead(false); err == nil {
				return c.startBody(resp, n)
			}
		}
		return c.fail("write request", werr)
	}
	n, err := c.awaitHead()
	if err != nil {
		return c.fail("read response", err)
	}
	return c.startBody(resp, n)
}

// awaitHead reads the final response head, within ResponseHeaderTimeout when that is
// set; the body's reads are then bounded by ReadTimeout alone.
func (c *conn) awaitHead() (int, error) {
	w := c.cl.ResponseHeaderTimeout
	if w <= 0 {
		return c.readHead(false)
	}
	c.rdLimit = clock.Now().Add(w) // the coarse clock: at most clock.Resolution early
	n, err := c.readHead(false)
	c.rdLimit = time.Time{}
	c.rd.Forget() // the deadline in force may be the head's: set it anew
	return n, err
}

// wroteRequest records the end of writing the request.
func (c *conn) wroteRequest(err error) {
	if c.times != nil {
		c.times.WroteRequest = time.Now()
	}
	if c.tr != nil && c.tr.WroteRequest != nil {
		c.tr.WroteRequest(err)
	}
}

// abort ends an exchange that cannot be completed because of the caller's request (its
// body reader or trailer failed): the message is left unfinished and the connection
// closed.
func (c *conn) abort(err error) error {
	c.dead = true
	c.end(err, 0, 0)
	return &connErr{op: "read request body", err: err}
}

// writeErr marks an error of the connection's write side, as opposed to an error of
// the caller's body reader.
type writeErr struct{ err error }

func (e writeErr) Error() string { return e.err.Error() }
func (e writeErr) Unwrap() error { return e.err }

func isWriteErr(err error) bool {
	var w writeErr
	return errors.As(err, &w)
}

func unwrapWrite(err error) error {
	if w, ok := err.(writeErr); ok {
		return w.err
	}
	return err
}

// sendBody writes the request body (length bytes, or chunked when length is -1); the
// head is already written.
func (c *conn) sendBody(req *Request, cur *bodyCursor, length int64) error {
	if req.bodyStream == nil {
		b := req.body
		if length < 0 {
			var err error
			if c.wbuf, err = req.appendBody(c.wbuf[:0], length); err != nil {
				return err
			}
			b = c.wbuf
		}
		if err := c.write(b); err != nil {
			return writeErr{err}
		}
		return nil
	}
	if c.sbuf == nil {
		c.sbuf = make([]byte, streamChunk)
	}
	r := req.bodyStream
	if length >= 0 {
		remaining := length
		for remaining > 0 {
			buf := c.sbuf
			if int64(len(buf)) > remaining {
				buf = buf[:remaining]
			}
			n, err := r.Read(buf)
			if n > 0 {
				cur.consumed = true
				remaining -= int64(n)
				if werr := c.write(buf[:n]); werr != nil {
					return writeErr{werr}
				}
			}
			if err == io.EOF {
				if remaining > 0 {
					return ErrBodyLength
				}
				break
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	for {
		n, err := r.Read(c.sbuf)
		if n > 0 {
			cur.consumed = true
			c.wbuf = wire.AppendChunk(c.wbuf[:0], c.sbuf[:n])
			if werr := c.write(c.wbuf); werr != nil {
				return writeErr{werr}
			}
		}
		if err == io.EOF {
			var terr error
			if c.wbuf, terr = appendLastChunk(c.wbuf[:0], req.Trailer); terr != nil {
				return terr
			}
			if werr := c.write(c.wbuf); werr != nil {
				return writeErr{werr}
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fail closes the connection after a failed exchange and describes the failure.
func (c *conn) fail(op string, err error) error {
	noResp := !c.gotByte && !neterr.IsTimeout(err) && c.checkCanceled() == nil
	c.dead = true
	c.end(err, 0, 0)
	return &connErr{op: op, noResponse: noResp, err: err}
}

// startBody consumes the final head of length n, copies it into resp and prepares
// the body reader, or hands the connection over when it switched protocols.
func (c *conn) startBody(resp *Response, n int) error {
	st := c.head.Status
	switching := st == 101 || c.method == "CONNECT" && st >= 200 && st < 300
	if switching && !c.upgrade {
		return c.fail("read response", ErrUnrequestedUpgrade)
	}
	resp.setHead(&c.head, c.method == "HEAD")
	resp.Body = resp.Body[:0]
	resp.Trailer.Reset()
	resp.ConnID = c.id
	resp.LocalAddr, resp.RemoteAddr, resp.TLS = c.localAddr, c.remoteAddr, c.tlsState
	c.in.Consume(n)
	if switching {
		return c.switchProtocols(resp)
	}
	resp.stream.start(c, resp)
	return nil
}

// switchProtocols hands the connection to the caller after 101 Switching Protocols or
// a 2xx answer to CONNECT: it leaves the pool (its slot is freed), its deadlines are
// cleared, and what was read past the head goes with it.
func (c *conn) switchProtocols(resp *Response) error {
	if c.stopCtx != nil {
		stopped := c.stopCtx()
		c.stopCtx = nil
		if !stopped {
			// The cancellation ran: the caller gave up (and the deadline is ruined).
			err := c.checkCanceled()
			if err == nil {
				err = context.Canceled
			}
			return c.fail("read response", err)
		}
	}
	c.nc.SetDeadline(time.Time{})
	sc := &SwitchedConn{Conn: c.nc}
	if c.in.Len() > 0 {
		sc.buf = bytes.Clone(c.in.Bytes())
	}
	c.in.Reset()
	resp.switched = sc
	resp.KeepAlive = false
	resp.stream = bodyReader{done: true, err: io.EOF}
	tr, id, st := c.tr, c.id, c.head.Status
	if c.times != nil {
		c.times.Done = time.Now()
	}
	c.tr, c.ctx, c.times = nil, nil, nil
	c.dead = true
	c.pool.detach(c)
	tr.done(DoneInfo{ConnID: id, Status: st, CloseReason: "switched protocols: the connection was handed to the caller"})
	return nil
}

// peekReadable reports whether the peer sent something that can be read now (used
// after a write error, to find an early response).
func (c *conn) peekReadable() bool {
	if c.raw == nil {
		return false
	}
	return c.peekState() == peekData
}
