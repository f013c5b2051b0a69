package testnet

// The in-memory connection of the server benchmarks (hop's own and the comparison
// module's): it measures a server's parse, dispatch and serialize work without system
// calls. Its reads replay a fixed request a bounded number of times and its writes
// only count bytes.

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// MemConn is a net.Conn whose input is a request repeated until a number of requests have
// been delivered. Reads honour the size of the caller's buffer, so the input is a
// proper byte stream however the server reads it. Writes are discarded and counted;
// the first bytes written are kept for inspection.
//
// At the end of the input a Read behaves like a client that waits for its last
// response before closing: when ResponseSize is set, it blocks until every response
// has been written (or the read deadline passes, or the MemConn is closed) and only then
// returns io.EOF. A server that watches for the client going away while a handler runs
// thus sees the client still there, as over TCP.
type MemConn struct {
	// ResponseSize, when set, returns the size of one response given the first bytes
	// written, or 0 while that is not known yet. Every response must have that size.
	ResponseSize func(out []byte) int

	batch   []byte // per copies of the request
	reqLen  int
	per     int
	total   int
	left    int    // requests not yet handed out
	pending []byte // rest of the current batch

	mu       sync.Mutex
	keep     int
	kept     bytes.Buffer
	keptFull atomic.Bool // keep bytes are kept: writes only count

	written  atomic.Int64
	deadline atomic.Int64 // read deadline, unix nanoseconds; 0 for none
	closed   chan struct{}
	closeOne sync.Once
}

// NewMemConn returns a MemConn that delivers req total times, per copies at a time (each batch is
// offered to the reader at once, as one TCP segment carrying pipelined requests would
// be). keep is how many written bytes to retain for Output.
func NewMemConn(req []byte, per, total, keep int) *MemConn {
	if per < 1 {
		per = 1
	}
	return &MemConn{
		batch:  bytes.Repeat(req, per),
		reqLen: len(req),
		per:    per,
		total:  total,
		left:   total,
		keep:   keep,
		closed: make(chan struct{}),
	}
}

// Read copies the next input bytes into p.
func (c *MemConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		if c.left <= 0 {
			return 0, c.waitEnd()
		}
		k := min(c.per, c.left)
		c.left -= k
		c.pending = c.batch[:k*c.reqLen]
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// endWait bounds how long the end of the input waits for the last responses.
const endWait = time.Minute

// waitEnd blocks until every response was written, the read deadline passed or the
// MemConn was closed.
func (c *MemConn) waitEnd() error {
	if c.ResponseSize == nil {
		return io.EOF
	}
	limit := time.Now().Add(endWait)
	size := 0
	for {
		if size == 0 {
			size = c.ResponseSize(c.Output())
		}
		if size > 0 && c.written.Load() >= int64(size)*int64(c.total) {
			return io.EOF
		}
		if d := c.deadline.Load(); d != 0 && time.Now().UnixNano() >= d {
			return os.ErrDeadlineExceeded
		}
		select {
		case <-c.closed:
			return io.EOF
		default:
		}
		if time.Now().After(limit) {
			return io.ErrUnexpectedEOF
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// Write counts p and keeps the first bytes written.
func (c *MemConn) Write(p []byte) (int, error) {
	if !c.keptFull.Load() {
		c.mu.Lock()
		if c.kept.Len() < c.keep {
			c.kept.Write(p[:min(len(p), c.keep-c.kept.Len())])
		}
		c.keptFull.Store(c.kept.Len() >= c.keep)
		c.mu.Unlock()
	}
	c.written.Add(int64(len(p)))
	return len(p), nil
}

// Written returns the number of bytes written so far.
func (c *MemConn) Written() int64 { return c.written.Load() }

// Output returns a copy of the first bytes written (up to keep).
func (c *MemConn) Output() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.kept.Bytes())
}

// Close marks the connection closed; it may be called more than once.
func (c *MemConn) Close() error {
	c.closeOne.Do(func() { close(c.closed) })
	return nil
}

// Done is closed when the connection has been closed.
func (c *MemConn) Done() <-chan struct{} { return c.closed }

// Fixed addresses, allocated once like a real connection's.
var (
	localAddr  net.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	remoteAddr net.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
)

// LocalAddr returns a fixed loopback address.
func (c *MemConn) LocalAddr() net.Addr { return localAddr }

// RemoteAddr returns a fixed loopback address.
func (c *MemConn) RemoteAddr() net.Addr { return remoteAddr }

// SetDeadline sets the read deadline (writes never block).
func (c *MemConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline sets the deadline for a Read blocked at the end of the input.
func (c *MemConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(t.UnixNano())
	}
	return nil
}

// SetWriteDeadline does nothing: writes never block.
func (c *MemConn) SetWriteDeadline(time.Time) error { return nil }

// MemListener hands out one connection, then blocks in Accept until closed.
type MemListener struct {
	mu     sync.Mutex
	conn   net.Conn
	closed chan struct{}
	once   sync.Once
}

// NewMemListener returns a MemListener whose first Accept returns c.
func NewMemListener(c net.Conn) *MemListener {
	return &MemListener{conn: c, closed: make(chan struct{})}
}

// Accept returns the connection once; later calls wait for Close and return
// net.ErrClosed.
func (l *MemListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

// Close makes Accept return net.ErrClosed.
func (l *MemListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns a fixed loopback address.
func (l *MemListener) Addr() net.Addr { return localAddr }
