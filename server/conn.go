package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/internal/clock"
	"github.com/hop-http/hop/wire"
)

// flushThreshold is how much pipelined output is batched before it is written even
// though more requests are buffered.
const flushThreshold = 64 << 10

// conn is one server connection and its state machine. Its buffers are reused through
// connPool.
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64

	rbuf       []byte // read buffer; unconsumed input is rbuf[rpos:rend]
	rpos, rend int
	floor      int    // while a handler runs, its head lies below floor and must not move
	wbuf       []byte // pending output: responses not yet written

	parser wire.Parser
	req    Request
	w      ResponseWriter
	nreq   int

	state        atomic.Uint32 // a ConnState, read by Stats and Shutdown
	told         ConnState     // the state last reported to the ConnState hook
	info         *ConnInfo     // the hook's view of the connection; nil without a hook
	takenOver    bool          // a handler took the connection over (TakeOver)
	headDeadline time.Time     // set when a head needs a second read
	lastRD       time.Time     // read deadline last set (zero: none or unknown)
	lastWD       time.Time     // write deadline last set
	tlsState     *tls.ConnectionState
	dead         bool      // the peer is gone or the stream is unusable
	inHandler    bool      // the handler is running (a context watch may start)
	woke         bool      // resumed from parking: input is ready, read before parking again
	idle         *idleConn // parking record, allocated at the first park
	rio          rawIO     // raw socket I/O (Linux, plain TCP)
	remoteStr    string    // RemoteAddr().String(), formatted once (net/http adapter)

	watch struct {
		active bool
		done   chan struct{}
		peek   [1]byte
		n      int
		err    error
	}
}

var connPool = sync.Pool{New: func() any { return new(conn) }}

func newConn(s *Server, nc net.Conn) *conn {
	c := getConn(s)
	c.nc = nc
	c.rio.setup(nc)
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
	size := s.ReadBufferSize
	if size <= 0 {
		size = DefaultReadBufferSize
	}
	if cap(c.rbuf) < size {
		c.rbuf = make([]byte, size)
	}
	c.rbuf = c.rbuf[:cap(c.rbuf)]
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
	if cap(c.rbuf) > 64<<10 {
		c.rbuf = nil
	}
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
	c.takenOver = false
	c.rio.release()
	c.rpos, c.rend, c.floor, c.nreq = 0, 0, 0, 0
	c.wbuf = c.wbuf[:0]
	c.headDeadline, c.lastRD, c.lastWD = time.Time{}, time.Time{}, time.Time{}
	c.dead, c.woke = false, false
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
		tc.SetDeadline(clock.Now().Add(c.srv.headerTimeout()))
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
		n, err := c.parser.ParseRequest(c.rbuf[c.rpos:c.rend], &c.req.Request)
		if err == wire.ErrNeedMore {
			switch c.fill() {
			case fillOK:
				continue
			case fillParked:
				return
			default:
				c.close()
				return
			}
		}
		if err != nil {
			c.fail(wire.StatusOf(err), err.Error())
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

// outcome is what handle decided for the connection.
type outcome uint8

const (
	keepServing outcome = iota // read the next request
	closeConn                  // close the connection
	handedOver                 // a handler took the connection over: forget it
)

const (
	fillOK       = iota // more input was read
	fillClose           // the connection ends
	fillParked          // the connection was parked; the goroutine must return
	fillFallback        // idleWait could not park: read with the goroutine
)

// fill reads more input for the head being parsed, after writing pending responses.
// An idle connection (nothing buffered) may be parked instead of read.
func (c *conn) fill() int {
	if len(c.wbuf) > 0 && !c.flush() {
		return fillClose
	}
	if c.rpos == c.rend {
		c.rpos, c.rend = 0, 0
		if c.srv.closing.Load() {
			return fillClose
		}
		if !c.woke && c.srv.parker.Load() != nil && c.parkable() {
			if r := c.idleWait(); r != fillFallback {
				return r
			}
		}
		n, ok, _ := c.readIdle(c.srv.idleTimeout())
		c.woke = false
		if !ok || n == 0 {
			return fillClose
		}
		return fillOK
	}
	if c.headDeadline.IsZero() {
		c.headDeadline = clock.Now().Add(c.srv.headerTimeout())
	}
	c.setReadDeadlineWithin(c.headDeadline, 0)
	if !c.makeRoom(c.srv.Limits.MaxHead()) {
		c.fail(431, "header section too large")
		return fillClose
	}
	n, err := c.read(c.rbuf[c.rend:])
	if n > 0 {
		c.rend += n
		return fillOK
	}
	if isTimeout(err) {
		c.fail(408, "request head not received in time")
	}
	return fillClose
}

// readIdle waits up to timeout for the first bytes of the next request on an idle
// connection, in a state Shutdown can interrupt (closeIdle). It appends what it read
// to rbuf and reports false when the server is shutting down and nothing arrived.
func (c *conn) readIdle(timeout time.Duration) (n int, ok bool, err error) {
	c.setReadTimeout(timeout)
	wait := StateIdle
	if c.nreq == 0 {
		wait = StateNew // no request yet
	}
	c.state.Store(uint32(wait) | waiting)
	if c.told != StateNew && !c.woke {
		// New is reported once; a connection woken from parking has input ready.
		c.tell(StateIdle)
	}
	if c.srv.closing.Load() {
		return 0, false, nil
	}
	n, err = c.read(c.rbuf[c.rend:])
	if !c.state.CompareAndSwap(uint32(wait)|waiting, uint32(StateActive)) {
		// Shutdown woke us. Serve what arrived (its response will close), else end.
		c.state.Store(uint32(StateActive))
		c.lastRD = time.Time{}
		if n == 0 {
			return 0, false, err
		}
	}
	if n > 0 {
		c.tell(StateActive)
	}
	c.rend += n
	return n, true, err
}

// makeRoom ensures free space at the end of rbuf, moving unconsumed input down to
// floor or, when that frees nothing, moving it to a new buffer of up to max bytes (the
// old buffer stays alive as long as a request still points into it). It reports false
// when max bytes of unconsumed input are already buffered.
func (c *conn) makeRoom(max int) bool {
	if c.rend < len(c.rbuf) {
		return true
	}
	if c.rpos > c.floor {
		c.rend = c.floor + copy(c.rbuf[c.floor:], c.rbuf[c.rpos:c.rend])
		c.rpos = c.floor
		return true
	}
	if c.rend-c.rpos >= max {
		return false
	}
	size := 2 * len(c.rbuf)
	if size > max {
		size = max
	}
	if size < c.rend-c.rpos+512 {
		size = c.rend - c.rpos + 512
	}
	nb := make([]byte, size)
	c.rend = copy(nb, c.rbuf[c.rpos:c.rend])
	c.rpos, c.floor = 0, 0
	c.rbuf = nb
	return true
}

// setReadTimeout sets the read deadline to d from now, unless the deadline in force is
// at most min(d/8, 1s) earlier: a busy keep-alive connection then touches its timer
// only every so often, and a timeout fires no earlier than 7/8 of d after the last
// activity.
func (c *conn) setReadTimeout(d time.Duration) {
	c.setReadDeadlineWithin(clock.Now().Add(d), min(d/8, time.Second))
}

// setReadDeadlineWithin sets the read deadline unless the one in force is at most slack
// earlier than t.
func (c *conn) setReadDeadlineWithin(t time.Time, slack time.Duration) {
	if d := t.Sub(c.lastRD); !c.lastRD.IsZero() && d >= 0 && d < slack {
		return
	}
	c.lastRD = t
	c.nc.SetReadDeadline(t)
}

func (c *conn) setWriteDeadline() {
	wt := c.srv.writeTimeout()
	t := clock.Now().Add(wt)
	if d := t.Sub(c.lastWD); !c.lastWD.IsZero() && d >= 0 && d < min(wt/8, time.Second) {
		return
	}
	c.lastWD = t
	c.nc.SetWriteDeadline(t)
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

// writeBuffers writes the pending output followed by p in one writev where possible.
func (c *conn) writeBuffers(p ...[]byte) error {
	c.setWriteDeadline()
	bufs := make(net.Buffers, 0, 1+len(p))
	if len(c.wbuf) > 0 {
		bufs = append(bufs, c.wbuf)
	}
	bufs = append(bufs, p...)
	_, err := bufs.WriteTo(c.nc)
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.writeFailed()
	}
	return err
}

// handle dispatches one parsed request whose head is n bytes and decides what
// happens to the connection next.
func (c *conn) handle(n int) outcome {
	s := c.srv
	c.headDeadline = time.Time{}
	c.rpos += n
	c.floor = c.rpos
	c.nreq++
	req := &c.req
	if s.MaxRequestBody > 0 && req.ContentLength > s.MaxRequestBody {
		c.fail(413, "request body too large")
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
	c.inHandler = true
	c.run(w, req)
	c.inHandler = false
	if c.takenOver {
		return handedOver
	}
	if req.watching() {
		c.stopWatch()
	}
	if berr := req.body.err; berr != nil {
		var we *wire.Error
		if errors.As(berr, &we) && !w.committed {
			c.fail(we.Status, we.Reason)
			return closeConn
		}
		w.keepAlive = false
	} else if !req.body.eof {
		if req.Expect100 && !req.continued {
			// The client waits for 100 before sending the body; do not read it.
			w.keepAlive = false
		} else if !req.body.discard(s.maxDrain()) {
			w.keepAlive = false
		}
	}
	if c.dead {
		return closeConn
	}
	ok := w.finish()
	c.floor = 0
	if !ok {
		return closeConn
	}
	if !w.keepAlive || c.dead {
		if c.flush() {
			c.lingerClose()
		}
		return closeConn
	}
	if len(c.wbuf) >= flushThreshold && !c.flush() {
		return closeConn
	}
	return keepServing
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
			if w.committed || p == ErrAbortHandler || c.takenOver {
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

// fail answers status with a short text body after any pending responses, then closes
// the connection gracefully.
func (c *conn) fail(status int, msg string) {
	if c.dead {
		return
	}
	c.srv.stats.reject(status)
	b := wire.AppendStatusLine(c.wbuf, 1, status, "")
	b = appendServerDate(b, c.srv, true, true)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"...)
	b = wire.AppendIntField(b, "Content-Length", int64(len(msg)+1))
	b = append(b, "\r\n"...)
	b = append(b, msg...)
	c.wbuf = append(b, '\n')
	if c.flush() {
		c.lingerClose()
	}
}

// lingerClose shuts down the write side and discards input until the peer closes, the
// linger time runs out or LingerBytes were read, so that the peer reads our last
// response before any reset.
func (c *conn) lingerClose() {
	raw := c.nc
	if tc, ok := raw.(*tls.Conn); ok {
		tc.CloseWrite()
		raw = tc.NetConn()
	}
	cw, ok := raw.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	raw.SetReadDeadline(clock.Now().Add(c.srv.lingerTimeout()))
	limit := c.srv.lingerBytes()
	buf := c.rbuf[:cap(c.rbuf)]
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

// startWatch begins a background read that notices the client going away while the
// handler runs; a byte that arrives (a pipelined request) is kept.
func (c *conn) startWatch() {
	if c.watch.active || c.dead || !c.inHandler || c.takenOver {
		return
	}
	if c.rpos < c.rend {
		// Input is already buffered: the client was alive a moment ago, and a read now
		// would have to be ordered after those bytes. Nothing to watch.
		return
	}
	c.watch.active = true
	if c.watch.done == nil {
		c.watch.done = make(chan struct{}, 1)
	}
	c.watch.n, c.watch.err = 0, nil
	c.nc.SetReadDeadline(time.Time{})
	c.lastRD = time.Time{}
	go func() {
		n, err := c.nc.Read(c.watch.peek[:])
		c.watch.n, c.watch.err = n, err
		if n == 0 && err != nil && !isTimeout(err) {
			c.req.cancel()
		}
		c.watch.done <- struct{}{}
	}()
}

// stopWatch ends the background read and keeps what it read.
func (c *conn) stopWatch() {
	if !c.watch.active {
		return
	}
	c.nc.SetReadDeadline(aLongTimeAgo)
	<-c.watch.done
	c.watch.active = false
	c.lastRD = time.Time{}
	if c.watch.n > 0 {
		c.makeRoom(len(c.rbuf) + 1)
		c.rbuf[c.rend] = c.watch.peek[0]
		c.rend++
	} else if c.watch.err == io.EOF {
		// The client finished sending (a half-close); it may still read: answer, then close.
		c.w.keepAlive = false
	} else if c.watch.err != nil && !isTimeout(c.watch.err) {
		c.dead = true
	}
}

// remoteString returns the peer's address as a string, formatted once per connection.
func (c *conn) remoteString() string {
	if c.remoteStr == "" {
		c.remoteStr = c.nc.RemoteAddr().String()
	}
	return c.remoteStr
}
