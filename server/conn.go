package server

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/internal/clock"
	"github.com/hop-http/hop/internal/connbuf"
	"github.com/hop-http/hop/internal/rawio"
	"github.com/hop-http/hop/wire"
)

// flushThreshold is how much pipelined output is batched before it is written even
// though more requests are buffered.
const flushThreshold = 64 << 10

// conn is one server connection and its state machine. Its buffers are reused through
// connPool.
//
// The goroutine serving a connection loops over: parse what is buffered; when a head
// is incomplete, get more input (awaitInput: write pending responses first, then wait
// for a new request — parked or not — or read the rest of a started head); when a head
// is complete, dispatch it (handle: run the handler, settle the body it left unread,
// finish the response) and decide the connection's fate (an outcome).
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64

	in     connbuf.Buffer // input; a running handler's head is pinned in it
	wbuf   []byte         // pending output: responses not yet written
	parser wire.Parser
	req    Request
	w      ResponseWriter
	nreq   int

	state        atomic.Uint32 // the ConnState (| waiting), read by Stats and Shutdown
	told         ConnState     // the state last reported to the ConnState hook
	info         *ConnInfo     // the hook's view of the connection; nil without a hook
	phase        phase
	dead         bool      // the peer is gone or the stream is unusable: no more I/O
	headDeadline time.Time // when the head being read must be complete (zero: not started)
	rd, wd       connbuf.Deadline
	tlsState     *tls.ConnectionState
	idle         *idleConn   // parking record, allocated at the first park
	rio          rawio.Conn  // raw socket I/O (Linux, plain TCP)
	bufs         net.Buffers // writeBuffers without raw I/O, over iov
	iov          [3][]byte
	remoteStr    string // RemoteAddr().String(), formatted once (net/http adapter)

	watch watch
}

// phase is what the connection's goroutine is doing, where other parts of the server
// behave differently while a handler runs.
type phase uint8

const (
	phaseServing   phase = iota // reading, parsing, writing responses
	phaseHandler                // a handler runs: Request.Context may start a watch
	phaseTakenOver              // the handler took the connection over: hands off
)

// step is what getting more input came to.
type step uint8

const (
	stepRead     step = iota // more input was read
	stepClose                // the connection ends
	stepParked               // the connection was parked; the goroutine must return
	stepFallback             // idleWait could not park: wait with the goroutine
)

// outcome is what handle decided for the connection.
type outcome uint8

const (
	keepServing outcome = iota // read the next request
	closeConn                  // close the connection
	handedOver                 // a handler took the connection over: forget it
)

var connPool = sync.Pool{New: func() any { return new(conn) }}

func newConn(s *Server, nc net.Conn) *conn {
	c := getConn(s)
	c.nc = nc
	c.rio.Attach(nc)
	c.id = s.nextID.Add(1)
	if s.ConnState != nil {
		_, isTLS := nc.(*tls.Conn)
		c.info = newConnInfo(c.id, nc, isTLS)
	}
	return c
}

// getConn takes a connection state (with its read buffer) from the pool.
func getConn(s *Server) *conn {
	c := connPool.Get().(*conn)
	c.srv = s
	c.in.Init(s.readBufferSize())
	c.parser.Limits = s.Limits // the pool is shared by every server
	c.state.Store(uint32(StateNew))
	return c
}

// close ends the connection for good.
func (c *conn) close() {
	s := c.srv
	c.nc.Close()
	c.enter(StateClosed)
	s.untrackConn(c, true)
	c.recycle()
}

// recycle returns the state to the pool; the net.Conn is no longer referenced.
func (c *conn) recycle() {
	// Drop oversized buffers so the pool does not pin memory.
	c.in.Release(64 << 10)
	if cap(c.wbuf) > 256<<10 {
		c.wbuf = nil
	}
	if cap(c.w.body) > 256<<10 {
		c.w.body = nil
	}
	if cap(c.w.scratch) > 256<<10 {
		c.w.scratch = nil
	}
	if c.req.cancel != nil {
		c.req.cancel()
	}
	c.srv, c.nc, c.tlsState, c.idle, c.info = nil, nil, nil, nil, nil
	c.remoteStr = ""
	c.phase, c.dead, c.nreq = phaseServing, false, 0
	c.rio.Detach()
	c.wbuf = c.wbuf[:0]
	c.headDeadline = time.Time{}
	c.rd.Forget()
	c.wd.Forget()
	c.parser.Reset()
	c.req.reset()
	c.w.reset()
	connPool.Put(c)
}

// serve runs a newly accepted connection.
func (c *conn) serve() {
	if c.info != nil {
		c.told = StateNew
		c.srv.ConnState(*c.info, StateNew)
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.SetDeadline(after(c.srv.headerTimeout()))
		if err := tc.Handshake(); err != nil {
			c.srv.stats.tlsErrors.Add(1)
			c.close()
			return
		}
		tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		c.tlsState = &st
	}
	c.loop()
}

// loop is the connection state machine: parse what is buffered, dispatch, and read
// more only when no complete request is left.
func (c *conn) loop() {
	for {
		n, err := c.parser.ParseRequest(c.in.Bytes(), &c.req.Request)
		if err == wire.ErrNeedMore {
			switch c.awaitInput() {
			case stepRead:
				continue
			case stepParked:
				return
			default:
				c.close()
				return
			}
		}
		if err != nil {
			c.failIn(asWireError(err))
			c.close()
			return
		}
		switch c.handle(n) {
		case keepServing:
		case closeConn:
			c.close()
			return
		case handedOver:
			c.recycle() // the handler owns the net.Conn now
			return
		}
	}
}

// asWireError returns err as the *wire.Error a client is answered with.
func asWireError(err error) *wire.Error {
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	return &wire.Error{Status: 400, Reason: err.Error()}
}

// errHeadTimeout answers a request head that did not arrive within ReadHeaderTimeout.
var errHeadTimeout = &wire.Error{Status: 408, Reason: "request head not received in time"}

// awaitInput gets more input for the head being parsed, after writing the responses
// still pending (a pipelined batch is done): a new request when nothing is buffered,
// else the rest of the head that started.
func (c *conn) awaitInput() step {
	if !c.flush() {
		return stepClose
	}
	if c.in.Len() == 0 {
		return c.awaitRequest()
	}
	return c.readHead()
}

// awaitRequest waits for the first bytes of the next request: in the epoll set
// (parked, see park.go) where the connection can park, else with its goroutine, for
// at most IdleTimeout.
func (c *conn) awaitRequest() step {
	if c.srv.closing.Load() {
		return stepClose
	}
	if c.srv.parker.Load() != nil && c.parkable() {
		if r := c.idleWait(); r != stepFallback {
			return r
		}
	}
	return c.readRequest(c.srv.idleTimeout(), true)
}

// readRequest reads the first bytes of a request with the goroutine, for at most
// timeout; see readIdle.
func (c *conn) readRequest(timeout time.Duration, reportIdle bool) step {
	if n, ok, _ := c.readIdle(timeout, reportIdle); !ok || n == 0 {
		return stepClose
	}
	return stepRead
}

// readHead reads more of a head that has started, within ReadHeaderTimeout of its
// first byte (slowloris) and the largest head the Limits admit.
func (c *conn) readHead() step {
	if c.headDeadline.IsZero() {
		c.headDeadline = after(c.srv.headerTimeout())
	}
	c.setReadDeadline(c.headDeadline, 0)
	if !c.in.Room(1, c.srv.Limits.MaxHead()) {
		c.failIn(wire.ErrHeaderTooLarge)
		return stepClose
	}
	n, err := c.read(c.in.Free())
	if n > 0 {
		c.in.Advance(n)
		return stepRead
	}
	if isTimeout(err) {
		c.failIn(errHeadTimeout)
	}
	return stepClose
}

// readIdle waits up to timeout for the first bytes of the next request on an idle
// connection, in a state Shutdown can interrupt (closeIdle). It appends what it read
// to the input and reports false when the server is shutting down and nothing arrived.
// reportIdle tells the ConnState hook the connection is idle (not when it was woken
// from parking with input ready).
func (c *conn) readIdle(timeout time.Duration, reportIdle bool) (n int, ok bool, err error) {
	c.setReadTimeout(timeout)
	wait := StateIdle
	if c.nreq == 0 {
		wait = StateNew // no request yet
	}
	c.state.Store(uint32(wait) | waiting)
	if reportIdle && c.told != StateNew {
		c.tell(StateIdle) // New is reported once
	}
	if c.srv.closing.Load() {
		return 0, false, nil
	}
	c.in.Room(1, c.in.Cap())
	if reportIdle && c.rio.Attached() {
		// The response just left, and the client needs a moment for the next
		// request: a read now finds nothing (EAGAIN) and the goroutine parks in the
		// poller anyway. Letting the connections already runnable go first makes that
		// read find the request more often (plaintext keep-alive, 50 connections on one
		// core: 2.0 reads per request without this, 1.5-1.7 with it; pipelined 16:
		// 1.95 reads per batch, 1.3), for the price of one trip through the scheduler
		// when nothing else is runnable.
		runtime.Gosched()
	}
	n, err = c.read(c.in.Free())
	if !c.state.CompareAndSwap(uint32(wait)|waiting, uint32(StateActive)) {
		// Shutdown woke us. Serve what arrived (its response will close), else end.
		c.state.Store(uint32(StateActive))
		c.rd.Forget()
		if n == 0 {
			return 0, false, err
		}
	}
	if n > 0 {
		c.tell(StateActive)
	}
	c.in.Advance(n)
	return n, true, err
}

// setReadDeadline sets the read deadline to t unless the one in force is at most slack
// earlier (see connbuf.Deadline): a busy keep-alive connection then touches its timer
// only every so often, and a timeout fires no earlier than 7/8 of the timeout after
// the last activity. A zero t clears the deadline.
func (c *conn) setReadDeadline(t time.Time, slack time.Duration) {
	if c.rd.Move(t, slack) {
		c.nc.SetReadDeadline(t)
	}
}

// setReadTimeout sets the read deadline d from now (none for zero), tolerating one that
// is up to min(d/8, 1s) earlier.
func (c *conn) setReadTimeout(d time.Duration) {
	c.setReadDeadline(after(d), min(d/8, time.Second))
}

func (c *conn) setWriteDeadline() {
	wt := c.srv.writeTimeout()
	if c.wd.Move(after(wt), min(wt/8, time.Second)) {
		c.nc.SetWriteDeadline(c.wd.At())
	}
}

// after returns the deadline d from now, or none (zero) when d is zero (no timeout).
// It adds nanoseconds rather than calling time.Time.Add, which costs several times as
// much on this once-per-request path.
func after(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Unix(0, clock.Now().UnixNano()+int64(d))
}

// flush writes the pending output. It reports false (and marks the connection dead)
// when the write fails.
func (c *conn) flush() bool {
	if len(c.wbuf) == 0 {
		return !c.dead
	}
	c.setWriteDeadline()
	_, err := c.write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	c.w.sent = c.w.committed
	if err != nil {
		c.writeFailed()
		return false
	}
	return true
}

// writeFailed marks the connection dead after a failed write.
func (c *conn) writeFailed() {
	if !c.dead {
		c.dead = true
		c.srv.stats.writeErrs.Add(1)
	}
}

// handle dispatches one parsed request whose head is n bytes and decides what
// happens to the connection next.
func (c *conn) handle(n int) outcome {
	s := c.srv
	c.headDeadline = time.Time{}
	c.in.Consume(n)
	c.in.Pin() // the request's fields point into the head
	c.nreq++
	req := &c.req
	if max := s.maxRequestBody(); max >= 0 && req.ContentLength > max {
		c.fail(wire.ErrBodyTooLarge, "", req.IsMethod("HEAD"))
		return closeConn
	}
	if c.badWebSocketVersion() {
		c.fail(errWebSocketVersion, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n", req.IsMethod("HEAD"))
		return closeConn
	}
	keep := req.KeepAlive && !s.closing.Load()
	if max := s.maxRequests(); max > 0 && c.nreq >= max {
		keep = false
	}
	req.begin(c)
	w := &c.w
	w.begin(c, req, keep)
	c.tell(StateActive)
	s.stats.requests.add(c.id)
	c.phase = phaseHandler
	c.run(w, req)
	out := c.respond(w, req)
	w.reportSent(0, 0) // when respond did not: a response kept, or given up
	return out
}

// respond sends the response of the handler that has returned, and says what
// happens to the connection next.
func (c *conn) respond(w *ResponseWriter, req *Request) outcome {
	if c.phase == phaseTakenOver {
		return handedOver
	}
	c.phase = phaseServing
	if c.watch.active {
		c.stopWatch()
	}
	if !c.settleBody(w, req) {
		return closeConn
	}
	ok := w.finish()
	c.in.Unpin()
	if !ok {
		return closeConn
	}
	if !w.keepAlive || c.dead {
		flushed := c.flush()
		w.reportSent(0, 0) // before the lingering close, which can take seconds
		if flushed && c.moreInputMayFollow() {
			c.lingerClose()
		}
		return closeConn
	}
	if len(c.wbuf) >= flushThreshold && !c.flush() {
		return closeConn
	}
	return keepServing
}

// settleBody deals with the request body after the handler returned, before its
// response leaves. A body the handler did not finish is drained (up to MaxBodyDrain)
// so that the connection can carry the next request; when the handler's reads or the
// drain find the body malformed (or not arriving in time), a response that has not
// left yet is replaced by the error. It reports false when the connection must end
// now (the error was sent, or the peer is gone); a body left unread otherwise ends the
// connection after the response.
func (c *conn) settleBody(w *ResponseWriter, req *Request) bool {
	b := &req.body
	if b.err == nil && !b.eof {
		switch {
		case req.Expect100 && !req.continued:
			w.keepAlive = false // the client waits for a 100 before sending the body: none comes
		case !b.discard(c.srv.maxDrain(), c.srv.drainTimeout()):
			w.keepAlive = false // too much left to drain: close after the response
		}
	}
	if b.err != nil {
		var we *wire.Error
		if errors.As(b.err, &we) && (!w.committed || !w.sent) {
			if w.committed {
				c.wbuf = c.wbuf[:w.headAt] // what was written of the response never left
			}
			c.fail(we, "", req.IsMethod("HEAD"))
			return false
		}
		w.keepAlive = false
	}
	return !c.dead
}

// errWebSocketVersion answers a WebSocket upgrade asking for a version other than 13,
// the only one RFC 6455 defines (§4.4).
var errWebSocketVersion = &wire.Error{Status: 426, Reason: "unsupported WebSocket version"}

// badWebSocketVersion reports an HTTP/1.1 request to upgrade to WebSocket whose
// Sec-WebSocket-Version is not 13. The server answers it (426 with the version it
// supports) before any handler runs, since no version but 13 exists for a handler to
// implement; a request without the field is the handler's to refuse.
func (c *conn) badWebSocketVersion() bool {
	r := &c.req.Request
	if !r.Upgrade || r.Minor == 0 || !r.Header.HasToken("Upgrade", "websocket") {
		return false
	}
	v := r.Header.Get("Sec-WebSocket-Version")
	return v != nil && string(wire.TrimOWS(v)) != "13"
}

// run calls the handler, turning a panic into a 500 (or a closed connection when the
// response was already committed).
func (c *conn) run(w *ResponseWriter, req *Request) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.stats.panics.Add(1)
			if p != ErrAbortHandler {
				c.srv.logger().Error("hop: handler panic", "conn", c.id, "panic", p)
			}
			if w.committed || p == ErrAbortHandler || c.phase == phaseTakenOver {
				c.dead = true
				return
			}
			c.srv.stats.reject(500)
			w.resetForError(500)
			w.keepAlive = false
		}
	}()
	c.srv.Handler.ServeHOP(w, req)
}

// ErrAbortHandler is a sentinel panic value to abort a handler without logging; the
// connection is closed.
var ErrAbortHandler = errors.New("hop/server: abort handler")

// fail answers e (its status, its reason as a short text body) after any pending
// responses, then closes the connection gracefully. fields are extra header lines,
// each ending in CRLF. head says the request is a HEAD: the answer keeps the
// Content-Length of its text and leaves the text out.
func (c *conn) fail(e *wire.Error, fields string, head bool) {
	if c.dead {
		return
	}
	c.srv.stats.reject(e.Status)
	b := wire.AppendStatusLine(c.wbuf, 1, e.Status, "")
	b = appendServerDate(b, c.srv, true, true)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"...)
	b = append(b, fields...)
	length := int64(len(e.Reason) + 1) // the reason and a newline
	b = wire.AppendIntField(b, "Content-Length", length)
	b = append(b, "\r\n"...)
	if head {
		length = 0 // the answer to a HEAD has the length its content would have, and none
	} else {
		b = append(append(b, e.Reason...), '\n')
	}
	c.wbuf = b
	ok := c.flush()
	c.w.reportSent(e.Status, length) // before the lingering close, which can take seconds
	if ok {
		c.lingerClose()
	}
}

// failIn fails the request whose head is (the start of) the buffered input.
func (c *conn) failIn(e *wire.Error) { c.fail(e, "", wire.IsHeadRequest(c.in.Bytes())) }

// moreInputMayFollow reports whether the client may still be sending when the server
// closes after a response, so that the close must linger (as nginx decides): input is
// buffered past the request, its body was not read to the end, or the client meant to
// keep the connection (the server is the one closing: a limit, shutdown, an error). A
// client that asked to close (Connection: close, or HTTP/1.0 without keep-alive) and
// sent nothing more gets a plain close: it must not send another request (RFC 9112
// §9.6), and lingering would cost a shutdown and a read on every such connection.
// Over TLS something does follow: the client's close_notify, which a closed socket
// would answer with a reset, so TLS connections always linger (a small cost beside
// the handshake each of them paid).
func (c *conn) moreInputMayFollow() bool {
	r := &c.req
	return r.KeepAlive || c.in.Len() > 0 || !r.body.eof || c.tlsState != nil
}

// lingerClose shuts down the write side and discards input until the peer closes, the
// linger time runs out or LingerBytes were read, so that the peer reads our last
// response before any reset.
func (c *conn) lingerClose() {
	timeout, limit := c.srv.lingerTimeout(), c.srv.lingerBytes()
	if timeout < 0 || limit < 0 {
		return // lingering is off
	}
	raw := c.nc
	if tc, ok := raw.(*tls.Conn); ok {
		tc.CloseWrite()
		raw = tc.NetConn()
	}
	cw, ok := raw.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	raw.SetReadDeadline(clock.Now().Add(timeout))
	c.in.Reset()
	c.in.Room(c.in.Cap(), c.in.Cap())
	buf := c.in.Free()
	for limit > 0 {
		n, err := raw.Read(buf)
		limit -= int64(n)
		if err != nil {
			return
		}
	}
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// remoteString returns the peer's address as a string, formatted once per connection.
func (c *conn) remoteString() string {
	if c.remoteStr == "" {
		c.remoteStr = c.nc.RemoteAddr().String()
	}
	return c.remoteStr
}
