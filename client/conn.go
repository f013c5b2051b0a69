package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/hop-http/hop/wire"
)

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// inlineBody is the largest in-memory request body sent in the same write as the head.
const inlineBody = 16 << 10

// streamChunk is the buffer used to copy a streamed request body.
const streamChunk = 32 << 10

// max1xx bounds the informational responses accepted before the final one.
const max1xx = 32

// conn is one client connection. It is owned by exactly one exchange at a time (or by
// the pool while idle), so its fields need no locking, except canceled.
type conn struct {
	id   uint64
	cl   *Client
	pool *hostPool
	nc   net.Conn     // the byte stream: TCP, or TLS over TCP
	tcp  *net.TCPConn // the TCP connection underneath, nil for other transports
	raw  syscall.RawConn
	tls  *tls.Conn
	// tlsState is the TLS state, nil when plain.
	tlsState              *tls.ConnectionState
	proxy                 string // proxy URL, "" when direct
	localAddr, remoteAddr net.Addr

	rbuf       []byte // read buffer; unconsumed input is rbuf[rpos:rend]
	rpos, rend int
	wbuf       []byte // request heads being written
	target     []byte // the request-target of the head being serialized
	sbuf       []byte // copy buffer for streamed request bodies, allocated on first use
	parser     wire.Parser
	head       wire.Response
	chunk      wire.ChunkedDecoder
	peekBuf    [1]byte
	peekN      int
	peekErr    error
	peekFn     func(fd uintptr) bool

	created  time.Time
	lastUsed time.Time
	idleTTL  time.Duration // how long it may stay idle (Client.IdleTimeout or less, from the server's Keep-Alive)
	requests int           // requests sent on it
	maxReq   int           // requests allowed in total, from the server's Keep-Alive max (0: no limit)
	proven   bool          // carried an HTTP/1.1 persistent exchange (pipelining allowed)
	dead     bool          // must not be reused

	// The current exchange.
	gotByte  bool      // a byte of the current response arrived
	deadline time.Time // absolute deadline (zero: none)
	rdSet    time.Time // read deadline in force
	wdSet    time.Time // write deadline in force
	canceled atomic.Bool
	stopCtx  func() bool
	ctx      context.Context
	tr       *Trace
	reqClose bool // the request asked to close
	method   string

	hold       bool   // a pipeline keeps the connection across exchanges
	heldReason string // why the last held exchange could not keep the connection
}

func (c *conn) init() {
	c.rbuf = make([]byte, c.cl.readBufferSize())
	c.parser.Limits = c.cl.Limits
	c.chunk.Limits = c.cl.Limits
	c.localAddr, c.remoteAddr = c.nc.LocalAddr(), c.nc.RemoteAddr()
	c.peekFn = c.peek
	if c.tcp != nil {
		c.raw, _ = c.tcp.SyscallConn()
	}
}

// close closes the connection at once.
func (c *conn) close() {
	c.dead = true
	c.nc.Close()
}

// begin prepares the connection for an exchange.
func (c *conn) begin(ctx context.Context, deadline time.Time, tr *Trace, method string) {
	if c.stopCtx != nil {
		if !c.stopCtx() {
			c.dead = true
		}
		c.stopCtx = nil
	}
	c.gotByte = false
	c.deadline = deadline
	c.tr = tr
	c.method = method
	c.reqClose = false
	c.ctx = ctx
	c.canceled.Store(false)
	if ctx != nil && ctx.Done() != nil {
		c.stopCtx = context.AfterFunc(ctx, func() {
			c.canceled.Store(true)
			c.nc.SetDeadline(aLongTimeAgo)
		})
	}
}

// end finishes the exchange: the connection goes back to the pool when keep is true
// and nothing forbids it, and is closed otherwise. It reports the outcome to the trace.
func (c *conn) end(err error, status int, n int64) {
	if c.stopCtx != nil {
		if !c.stopCtx() {
			c.dead = true // the cancellation ran: the deadline is ruined
		}
		c.stopCtx = nil
	}
	reason := ""
	switch {
	case err != nil:
		reason = "error: " + err.Error()
	case c.dead:
		reason = "connection unusable"
	case !c.hold && c.rpos < c.rend:
		reason = "unexpected data after the response"
	case c.reqClose:
		reason = "request asked to close"
	case !c.head.KeepAlive:
		if c.head.Framing == wire.FramingClose {
			reason = "body delimited by close"
		} else if c.head.Minor == 0 {
			reason = "HTTP/1.0 server did not keep alive"
		} else {
			reason = "server asked to close"
		}
	case c.maxReq > 0 && c.requests >= c.maxReq:
		reason = "server's Keep-Alive max reached"
	case c.cl.MaxRequestsPerConn > 0 && c.requests >= c.cl.MaxRequestsPerConn:
		reason = "MaxRequestsPerConn reached"
	}
	tr, id := c.tr, c.id
	c.tr, c.ctx = nil, nil
	keep := reason == ""
	if c.hold {
		// A pipeline owns the connection: it decides what happens next.
		c.heldReason = reason
		if keep {
			c.noteKeepAlive()
		}
		tr.done(DoneInfo{ConnID: id, Status: status, BodyBytes: n, Err: err, KeptAlive: keep, CloseReason: reason})
		return
	}
	if keep {
		c.noteKeepAlive()
		c.pool.put(c)
	} else {
		c.pool.drop(c)
	}
	tr.done(DoneInfo{ConnID: id, Status: status, BodyBytes: n, Err: err, KeptAlive: keep, CloseReason: reason})
}

// noteKeepAlive applies the server's Keep-Alive: timeout=N, max=M to the idle limits.
func (c *conn) noteKeepAlive() {
	if t := c.head.KeepAliveTimeout; t > 0 {
		d := time.Duration(t) * time.Second
		// Leave a margin so that the client gives up the connection before the server
		// closes it: a quarter of the timeout, at most one second.
		margin := d / 4
		if margin > time.Second {
			margin = time.Second
		}
		if d -= margin; d < c.idleTTL {
			c.idleTTL = d
		}
	}
	if m := c.head.KeepAliveMax; m > 0 {
		c.maxReq = c.requests + m
	}
	if c.head.Minor >= 1 {
		c.proven = true
	}
}

func (c *conn) checkCanceled() error {
	if c.canceled.Load() {
		if c.ctx != nil && c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		return context.Canceled
	}
	return nil
}

// setReadDeadline arms the read deadline for the next read: the exchange deadline or
// ReadTimeout from now, whichever is first. Without an exchange deadline the timer is
// moved at most about once a second.
func (c *conn) setReadDeadline() error {
	now := time.Now()
	t := now.Add(c.cl.readTimeout())
	if !c.deadline.IsZero() && c.deadline.Before(t) {
		t = c.deadline
	} else if !c.rdSet.IsZero() && !c.rdSet.After(t) && t.Sub(c.rdSet) < time.Second {
		return c.checkCanceled()
	}
	c.rdSet = t
	if err := c.nc.SetReadDeadline(t); err != nil {
		return err
	}
	return c.checkCanceled()
}

func (c *conn) setWriteDeadline() error {
	now := time.Now()
	t := now.Add(c.cl.writeTimeout())
	if !c.deadline.IsZero() && c.deadline.Before(t) {
		t = c.deadline
	} else if !c.wdSet.IsZero() && !c.wdSet.After(t) && t.Sub(c.wdSet) < time.Second {
		return c.checkCanceled()
	}
	c.wdSet = t
	if err := c.nc.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.checkCanceled()
}

// write writes p whole.
func (c *conn) write(p []byte) error {
	if err := c.setWriteDeadline(); err != nil {
		return err
	}
	_, err := c.nc.Write(p)
	if err != nil {
		if cerr := c.checkCanceled(); cerr != nil {
			return cerr
		}
	}
	return err
}

// makeRoom ensures free space at the end of rbuf: unconsumed input moves to the front,
// and the buffer grows up to max bytes. It reports false when max bytes of unconsumed
// input are already buffered.
func (c *conn) makeRoom(max int) bool {
	if c.rpos == c.rend {
		c.rpos, c.rend = 0, 0
	}
	if c.rend < len(c.rbuf) {
		return true
	}
	if c.rpos > 0 {
		c.rend = copy(c.rbuf, c.rbuf[c.rpos:c.rend])
		c.rpos = 0
		return true
	}
	if len(c.rbuf) >= max {
		return false
	}
	size := 2 * len(c.rbuf)
	if size > max {
		size = max
	}
	nb := make([]byte, size)
	c.rend = copy(nb, c.rbuf[c.rpos:c.rend])
	c.rpos = 0
	c.rbuf = nb
	return true
}

// errBufferFull is returned by fill when a head or framing line exceeds the limit.
var errBufferFull = errors.New("hop/client: response head or framing line too large")

// fill reads more input into rbuf. It returns an error when nothing could be read.
func (c *conn) fill(max int) error {
	if !c.makeRoom(max) {
		return errBufferFull
	}
	if err := c.setReadDeadline(); err != nil {
		return err
	}
	for range 4 {
		n, err := c.nc.Read(c.rbuf[c.rend:])
		if n > 0 {
			c.rend += n
			if !c.gotByte {
				c.gotByte = true
				if c.tr != nil && c.tr.FirstByte != nil {
					c.tr.FirstByte()
				}
			}
			return nil
		}
		if err != nil {
			if cerr := c.checkCanceled(); cerr != nil {
				return cerr
			}
			return err
		}
	}
	return io.ErrNoProgress
}

// readDirect reads body bytes into p, bypassing rbuf (which must be empty).
func (c *conn) readDirect(p []byte) (int, error) {
	if err := c.setReadDeadline(); err != nil {
		return 0, err
	}
	for range 4 {
		n, err := c.nc.Read(p)
		if n > 0 || err != nil {
			if n == 0 {
				if cerr := c.checkCanceled(); cerr != nil {
					return 0, cerr
				}
			}
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// headLimit is how large the read buffer may grow while a head is incomplete.
func (c *conn) headLimit() int { return c.cl.Limits.MaxHead() }

// readHead reads one response head (1xx included) into c.head. It returns the head
// length; the head is rbuf[rpos:rpos+n].
func (c *conn) readHead() (int, error) {
	for {
		n, err := c.parser.ParseResponse(c.rbuf[c.rpos:c.rend], &c.head, unsafeBytes(c.method))
		if err == nil {
			return n, nil
		}
		if err != wire.ErrNeedMore {
			c.parser.Reset()
			return 0, err
		}
		if err := c.fill(c.headLimit()); err != nil {
			c.parser.Reset()
			return 0, err
		}
	}
}

// readFinalHead reads heads until a final (non-1xx) one, reporting each to the trace.
func (c *conn) readFinalHead() (int, error) {
	if !c.gotByte && c.rpos < c.rend {
		// The response arrived with an earlier one (pipelining).
		c.gotByte = true
		if c.tr != nil && c.tr.FirstByte != nil {
			c.tr.FirstByte()
		}
	}
	for range max1xx {
		n, err := c.readHead()
		if err != nil {
			return 0, err
		}
		if c.tr != nil && c.tr.GotHead != nil {
			c.tr.GotHead(c.rbuf[c.rpos : c.rpos+n])
		}
		switch st := c.head.Status; {
		case st >= 200:
			return n, nil
		case st == 101:
			return 0, ErrUnsupportedUpgrade
		case st == 100:
			if c.tr != nil && c.tr.Got100Continue != nil {
				c.tr.Got100Continue()
			}
			c.rpos += n
		default:
			c.rpos += n
		}
	}
	return 0, errTooMany1xx
}

// errTooMany1xx is returned when more than max1xx informational responses precede the
// final one.
var errTooMany1xx = errors.New("hop/client: too many informational (1xx) responses")

// exchange sends req on c and reads the final response head into resp. On success the
// body is ready to read through resp.stream, and the exchange ends when the body
// does. On failure the connection is already closed and the error is a *connErr.
func (c *conn) exchange(req *Request, resp *Response, cur *bodyCursor, absolute bool) error {
	c.requests++
	length := req.ContentLength()
	c.target = req.appendTarget(c.target[:0], absolute)
	head, closing := req.appendHead(c.wbuf[:0], c.target, c.pool.proxyAuth, length)
	c.wbuf = head
	c.reqClose = closing
	headLen := len(head)
	tr := c.tr

	expect := req.hasBody && length != 0 && req.Header.HasToken("Expect", "100-continue")
	sendBody := req.hasBody && length != 0
	var werr error
	switch {
	case !sendBody || expect:
		werr = c.write(c.wbuf)
	case req.bodyStream == nil && len(req.body) <= inlineBody:
		c.wbuf = append(c.wbuf, req.body...)
		werr = c.write(c.wbuf)
		sendBody = false
	default:
		werr = c.write(c.wbuf)
	}
	if werr == nil && tr != nil && tr.WroteHead != nil {
		tr.WroteHead(c.wbuf[:headLen])
	}
	if werr == nil && expect {
		// Wait for 100 Continue, a final response, or the timeout.
		final, err := c.awaitContinue()
		switch {
		case err != nil:
			return c.fail("read response", err)
		case final:
			// The server answered without wanting the body: it is not sent, so the
			// connection cannot carry another request.
			sendBody = false
			c.dead = true
		}
	}
	if werr == nil && sendBody {
		werr = c.sendBody(req, cur)
		if werr != nil && !isWriteErr(werr) {
			// The caller's body failed: the request cannot be completed.
			c.dead = true
			c.end(werr, 0, 0)
			return &connErr{op: "read request body", err: werr}
		}
	}
	if tr != nil && tr.WroteRequest != nil {
		tr.WroteRequest(unwrapWrite(werr))
	}
	if werr != nil {
		werr = unwrapWrite(werr)
		// The server may have answered (say 413) and closed before reading all of the
		// request: read what it sent before reporting the write error.
		c.dead = true
		if c.gotByte || c.rpos < c.rend || c.peekReadable() {
			if n, err := c.readFinalHead(); err == nil {
				return c.startBody(resp, n)
			}
		}
		return c.fail("write request", werr)
	}
	n, err := c.readFinalHead()
	if err != nil {
		return c.fail("read response", err)
	}
	return c.startBody(resp, n)
}

// awaitContinue waits up to ExpectContinueTimeout for the server's answer to
// Expect: 100-continue. final reports that a final response head is parsed (and left
// in the buffer for readFinalHead).
func (c *conn) awaitContinue() (final bool, err error) {
	wait := c.cl.expectTimeout()
	t := time.Now().Add(wait)
	if !c.deadline.IsZero() && c.deadline.Before(t) {
		t = c.deadline
	}
	c.nc.SetReadDeadline(t)
	c.rdSet = t
	defer func() {
		c.rdSet = time.Time{} // force the next read to set its own deadline
	}()
	for {
		n, err := c.parser.ParseResponse(c.rbuf[c.rpos:c.rend], &c.head, unsafeBytes(c.method))
		if err == nil {
			if c.head.Status == 100 {
				if c.tr != nil {
					if c.tr.GotHead != nil {
						c.tr.GotHead(c.rbuf[c.rpos : c.rpos+n])
					}
					if c.tr.Got100Continue != nil {
						c.tr.Got100Continue()
					}
				}
				c.rpos += n
				return false, nil
			}
			if c.head.Status < 200 && c.head.Status != 101 {
				if c.tr != nil && c.tr.GotHead != nil {
					c.tr.GotHead(c.rbuf[c.rpos : c.rpos+n])
				}
				c.rpos += n
				continue
			}
			// A final response (or 101): leave it for readFinalHead, which parses it
			// again from the start.
			return true, nil
		}
		if err != wire.ErrNeedMore {
			c.parser.Reset()
			return false, err
		}
		if !c.makeRoom(c.headLimit()) {
			return false, errBufferFull
		}
		rn, rerr := c.nc.Read(c.rbuf[c.rend:])
		if rn > 0 {
			c.rend += rn
			if !c.gotByte {
				c.gotByte = true
				if c.tr != nil && c.tr.FirstByte != nil {
					c.tr.FirstByte()
				}
			}
			continue
		}
		if cerr := c.checkCanceled(); cerr != nil {
			return false, cerr
		}
		if isTimeout(rerr) && (c.deadline.IsZero() || time.Now().Before(c.deadline)) {
			return false, nil // no answer in time: send the body
		}
		if rerr == nil {
			continue
		}
		return false, rerr
	}
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

// sendBody writes the request body; the head is already written.
func (c *conn) sendBody(req *Request, cur *bodyCursor) error {
	if req.bodyStream == nil {
		if err := c.write(req.body); err != nil {
			return writeErr{err}
		}
		return nil
	}
	if c.sbuf == nil {
		c.sbuf = make([]byte, streamChunk)
	}
	r := req.bodyStream
	if req.bodyLen >= 0 {
		remaining := req.bodyLen
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
			c.wbuf = wire.AppendLastChunk(c.wbuf[:0], nil)
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
	noResp := !c.gotByte && !isTimeout(err) && c.checkCanceled() == nil
	c.dead = true
	c.end(err, 0, 0)
	return &connErr{op: op, noResponse: noResp, err: err}
}

// startBody consumes the final head of length n, copies it into resp and prepares
// the body reader.
func (c *conn) startBody(resp *Response, n int) error {
	resp.setHead(&c.head, c.method == "HEAD")
	resp.Body = resp.Body[:0]
	resp.Trailer.Reset()
	resp.ConnID = c.id
	resp.LocalAddr, resp.RemoteAddr, resp.TLS = c.localAddr, c.remoteAddr, c.tlsState
	c.rpos += n
	b := &resp.stream
	b.start(c, resp)
	return nil
}

// peekReadable reports whether the peer sent something that can be read now (used
// after a write error, to find an early response).
func (c *conn) peekReadable() bool {
	if c.raw == nil {
		return false
	}
	state := c.peekState()
	return state == peekData
}

// unsafeBytes returns the bytes of s without copying; they must only be read.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
