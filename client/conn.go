package client

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/hop-http/hop/internal/clock"
	"github.com/hop-http/hop/internal/connbuf"
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

	in      connbuf.Buffer // read buffer: the unconsumed input is in.Bytes()
	wbuf    []byte         // request heads being written
	target  []byte         // the request-target of the head being serialized
	sbuf    []byte         // copy buffer for streamed request bodies, allocated on first use
	parser  wire.Parser
	head    wire.Response
	chunk   connbuf.Chunked
	peekBuf [1]byte
	peekN   int
	peekErr error
	peekFn  func(fd uintptr) bool

	created  time.Time
	lastUsed time.Time
	idleTTL  time.Duration // how long it may stay idle (Client.IdleTimeout or less, from the server's Keep-Alive)
	requests int           // requests sent on it
	maxReq   int           // requests allowed in total, from the server's Keep-Alive max (0: no limit)
	proven   bool          // carried an HTTP/1.1 persistent exchange (pipelining allowed)
	dead     bool          // must not be reused

	// The current exchange.
	gotByte  bool             // a byte of the current response arrived
	deadline time.Time        // absolute deadline (zero: none)
	rdLimit  time.Time        // a nearer read deadline while waiting for 100 Continue (zero: none)
	rd, wd   connbuf.Deadline // the read and write deadlines in force
	canceled atomic.Bool
	stopCtx  func() bool
	ctx      context.Context
	tr       *Trace
	reqClose bool // the request asked to close
	upgrade  bool // the request asked to switch protocols (Upgrade), or is a CONNECT
	method   string
	n1xx     int      // informational responses received in this exchange
	times    *Timings // the Response's timings, filled as the exchange goes (nil: none)

	hold       bool   // a pipeline keeps the connection across exchanges
	heldReason string // why the last held exchange could not keep the connection
}

func (c *conn) init() {
	c.in.Init(c.cl.readBufferSize())
	c.parser.Limits = c.cl.Limits
	c.chunk.Decoder.Limits = c.cl.Limits
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

// Bounds of a graceful close: how long and how much it waits for the server's end.
const (
	lingerTimeout = time.Second
	lingerBytes   = 64 << 10
)

// closeGracefully ends a connection whose exchange finished cleanly but which is not
// kept (either side asked to close). Closing a socket with input still unread makes
// the kernel answer with a reset instead of a FIN, and a server that closes after its
// response typically has sent more than the response: TLS's close_notify, or a
// session ticket. So the write side is shut down first (close_notify, then FIN), and
// in the background the rest of the server's input is read and discarded until its
// FIN, for at most lingerTimeout and lingerBytes, before the socket is closed.
func (c *conn) closeGracefully() {
	c.dead = true
	if c.tcp == nil {
		c.nc.Close()
		return
	}
	if c.tls != nil {
		c.tls.SetWriteDeadline(time.Now().Add(lingerTimeout))
		c.tls.CloseWrite() // close_notify; the TCP write side stays open
	}
	if err := c.tcp.CloseWrite(); err != nil {
		c.nc.Close()
		return
	}
	nc, tcp := c.nc, c.tcp
	go func() {
		tcp.SetReadDeadline(time.Now().Add(lingerTimeout))
		var buf [4 << 10]byte
		for n := 0; n < lingerBytes; {
			m, err := tcp.Read(buf[:]) // the raw bytes: nothing here needs decrypting
			n += m
			if err != nil {
				break
			}
		}
		nc.Close()
	}()
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
	c.rdLimit = time.Time{}
	c.tr = tr
	c.method = method
	c.reqClose = false
	c.upgrade = false
	c.n1xx = 0
	c.times = nil
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
	case !c.hold && c.in.Len() > 0:
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
	if c.times != nil {
		c.times.Done = time.Now()
	}
	c.tr, c.ctx, c.times = nil, nil, nil
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
	switch {
	case keep:
		c.noteKeepAlive()
		c.pool.put(c)
	case err == nil && !c.dead:
		c.pool.dropGracefully(c)
	default:
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

// setReadDeadline arms the read deadline for the next read: ReadTimeout from now, or
// the exchange deadline (or the wait for 100 Continue) when that comes first. Without
// a nearer limit the timer is moved at most about once a second.
func (c *conn) setReadDeadline() error {
	limit := c.deadline
	if !c.rdLimit.IsZero() && (limit.IsZero() || c.rdLimit.Before(limit)) {
		limit = c.rdLimit
	}
	return c.armDeadline(&c.rd, c.cl.readTimeout(), limit, c.nc.SetReadDeadline)
}

func (c *conn) setWriteDeadline() error {
	return c.armDeadline(&c.wd, c.cl.writeTimeout(), c.deadline, c.nc.SetWriteDeadline)
}

// armDeadline sets a deadline of timeout from now (none when timeout is 0, that is
// when the Client's timeout is negative), or limit when that comes first; d is the
// deadline in force. A deadline that only moves later is set at most once a second
// (connbuf.Deadline); an exact limit is always set.
func (c *conn) armDeadline(d *connbuf.Deadline, timeout time.Duration, limit time.Time, apply func(time.Time) error) error {
	var t time.Time
	slack := time.Second
	if timeout > 0 {
		t = clock.Now().Add(timeout) // the coarse clock: at most clock.Resolution early
	}
	if !limit.IsZero() && (t.IsZero() || limit.Before(t)) {
		t, slack = limit, 0
	}
	if d.Move(t, slack) {
		if err := apply(t); err != nil {
			return err
		}
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

// fill reads more input into the read buffer, which may grow until it holds max bytes
// of unconsumed input. It returns an error when nothing could be read.
func (c *conn) fill(max int) error {
	if !c.in.Room(1, max) {
		return errBufferFull
	}
	if err := c.setReadDeadline(); err != nil {
		return err
	}
	if !c.gotByte && c.in.Len() == 0 {
		// The request just left and the server needs a moment to answer: a read now
		// finds nothing (EAGAIN) and the goroutine parks in the poller anyway. Letting
		// the goroutines already runnable go first makes the read find the response
		// more often (a proxy's upstream side: one read system call less per request
		// in most exchanges).
		runtime.Gosched()
	}
	for range 4 {
		n, err := c.in.Fill(c.nc)
		if n > 0 {
			if !c.gotByte {
				c.firstByte()
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

// firstByte records the arrival of the response's first byte.
func (c *conn) firstByte() {
	c.gotByte = true
	if c.times != nil {
		c.times.FirstByte = time.Now()
	}
	if c.tr != nil && c.tr.FirstByte != nil {
		c.tr.FirstByte()
	}
}

// readDirect reads body bytes into p, bypassing the read buffer (which must be empty).
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

// unsafeBytes returns the bytes of s without copying; they must only be read.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
