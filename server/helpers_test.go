package server_test

// Test plumbing shared by the server tests: a server on a loopback listener, a listener
// wrapper that counts the server's writes, and a raw client that writes exact bytes and
// reads responses with package wire (the one HTTP parser of the repository).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// ioWait bounds every single wait of a test on the network or on a handler. It is
// generous because the machine running the tests may be heavily loaded.
const ioWait = 10 * time.Second

// quietLogger drops the server's log output (handler panics are expected in some tests).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logRecorder is a slog.Handler that keeps the messages it receives.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

// testServer is a running server.Server on 127.0.0.1:0.
type testServer struct {
	*server.Server
	addr   string
	served chan error // receives Serve's result
}

// startServer serves s on a fresh loopback listener; see startServerOn.
func startServer(t testing.TB, s *server.Server) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, s, ln)
}

// startServerOn serves s on ln until the test ends, then closes it and checks that
// Serve returned ErrServerClosed.
func startServerOn(t testing.TB, s *server.Server, ln net.Listener) *testServer {
	t.Helper()
	if s.Logger == nil {
		s.Logger = quietLogger()
	}
	ts := &testServer{Server: s, addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { ts.served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-ts.served:
			if !errors.Is(err, server.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
			ts.served <- err // for tests that also look
		case <-time.After(ioWait):
			t.Errorf("Serve did not return after Close")
		}
	})
	return ts
}

// countingListener wraps every accepted connection in a countingConn.
type countingListener struct {
	net.Listener
	conns chan *countingConn // every accepted connection, in order
}

func newCountingListener(t testing.TB) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &countingListener{Listener: ln, conns: make(chan *countingConn, 64)}
}

func (l *countingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &countingConn{Conn: nc}
	select {
	case l.conns <- c:
	default:
	}
	return c, nil
}

// next returns the next accepted connection.
func (l *countingListener) next(t testing.TB) *countingConn {
	t.Helper()
	select {
	case c := <-l.conns:
		return c
	case <-time.After(ioWait):
		t.Fatal("no connection accepted")
		return nil
	}
}

// countingConn counts the Write calls the server makes. It forwards CloseWrite so that
// the server's lingering close still half-closes the TCP connection.
type countingConn struct {
	net.Conn
	writes      atomic.Int64
	bytes       atomic.Int64
	closeWrites atomic.Int64 // CloseWrite calls: the server lingered
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	n, err := c.Conn.Write(p)
	c.bytes.Add(int64(n))
	return n, err
}

func (c *countingConn) CloseWrite() error {
	c.closeWrites.Add(1)
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("no CloseWrite")
}

// client is a raw HTTP/1.1 client connection: it writes exact bytes and reads
// responses with wire.Parser and wire.ChunkedDecoder.
type client struct {
	t   testing.TB
	nc  net.Conn
	buf []byte // received, not yet consumed
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

func newClient(t testing.TB, nc net.Conn) *client {
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

// write sends s and fails the test on error. Only for the test goroutine.
func (c *client) write(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioWait))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// writePaced sends data in a goroutine in pieces of at most piece bytes with a short
// pause between them, and returns a channel that receives the result. Pacing makes a
// server that closes without draining the input observable: its reset reaches the
// client while it is still writing, so the write fails (on loopback the kernel would
// otherwise absorb a large write at once, before the reset). It never touches c.t.
func (c *client) writePaced(data []byte, piece int) <-chan error {
	var parts [][]byte
	for len(data) > piece {
		parts = append(parts, data[:piece])
		data = data[piece:]
	}
	parts = append(parts, data)
	done := make(chan error, 1)
	go func() {
		c.nc.SetWriteDeadline(time.Now().Add(3 * ioWait))
		for i, p := range parts {
			if i > 0 {
				time.Sleep(time.Millisecond)
			}
			if _, err := c.nc.Write(p); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// fill reads more bytes into c.buf.
func (c *client) fill() error {
	var tmp [32 << 10]byte
	c.nc.SetReadDeadline(time.Now().Add(ioWait))
	n, err := c.nc.Read(tmp[:])
	c.buf = append(c.buf, tmp[:n]...)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// response is a received response with copies of everything it holds.
type response struct {
	Status        int
	Minor         uint8
	Header        wire.Header
	Framing       wire.Framing
	ContentLength int64
	KeepAlive     bool
	KATimeout     int
	KAMax         int
	Body          []byte
	Trailer       wire.Header
}

func (r *response) get(name string) string { return string(r.Header.Get(name)) }

// closes reports whether the response carries Connection: close.
func (r *response) closes() bool { return r.Header.HasToken("Connection", "close") }

func (r *response) String() string {
	return fmt.Sprintf("HTTP/1.%d %d (%s, %d body bytes %q)", r.Minor, r.Status, r.Framing, len(r.Body), truncate(r.Body, 80))
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// readHead reads and parses one response head; method is the request's method.
func (c *client) readHead(method string) (*response, error) {
	var p wire.Parser
	var wr wire.Response
	for {
		n, err := p.ParseResponse(c.buf, &wr, []byte(method))
		if err == wire.ErrNeedMore {
			if err := c.fill(); err != nil {
				return nil, fmt.Errorf("reading head (have %q): %w", truncate(c.buf, 200), err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing head %q: %w", truncate(c.buf, 200), err)
		}
		r := &response{
			Status: wr.Status, Minor: wr.Minor, Framing: wr.Framing,
			ContentLength: wr.ContentLength, KeepAlive: wr.KeepAlive,
			KATimeout: wr.KeepAliveTimeout, KAMax: wr.KeepAliveMax,
		}
		r.Header.CopyFrom(&wr.Header)
		c.buf = c.buf[n:]
		return r, nil
	}
}

// chunks decodes a chunked body piece by piece as it arrives.
type chunks struct {
	c   *client
	dec wire.ChunkedDecoder
}

// next returns the next piece of body data, or io.EOF after the last chunk and trailer.
func (ch *chunks) next() ([]byte, error) {
	c := ch.c
	for {
		if ch.dec.Done() {
			return nil, io.EOF
		}
		used, data, err := ch.dec.Decode(c.buf)
		if err != nil {
			return nil, err
		}
		if len(data) > 0 {
			out := bytes.Clone(data)
			c.buf = c.buf[used:]
			return out, nil
		}
		c.buf = c.buf[used:]
		if ch.dec.Done() {
			return nil, io.EOF
		}
		if used > 0 && len(c.buf) > 0 {
			continue
		}
		if err := c.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading chunked body: %w", err)
		}
	}
}

// readBody reads the body of r according to its framing.
func (c *client) readBody(r *response) error {
	switch r.Framing {
	case wire.FramingNone:
		return nil
	case wire.FramingLength:
		for int64(len(c.buf)) < r.ContentLength {
			if err := c.fill(); err != nil {
				r.Body = bytes.Clone(c.buf)
				c.buf = c.buf[:0]
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("body: got %d of %d bytes: %w", len(r.Body), r.ContentLength, err)
			}
		}
		r.Body = bytes.Clone(c.buf[:r.ContentLength])
		c.buf = c.buf[r.ContentLength:]
		return nil
	case wire.FramingChunked:
		ch := &chunks{c: c}
		for {
			data, err := ch.next()
			r.Body = append(r.Body, data...)
			if err == io.EOF {
				r.Trailer.CopyFrom(&ch.dec.Trailer)
				return nil
			}
			if err != nil {
				return err
			}
		}
	default: // close-delimited
		for {
			err := c.fill()
			if err == io.EOF {
				r.Body = bytes.Clone(c.buf)
				c.buf = c.buf[:0]
				return nil
			}
			if err != nil {
				return fmt.Errorf("close-delimited body: %w", err)
			}
		}
	}
}

// readResponse reads one complete response (head and body).
func (c *client) readResponse(method string) (*response, error) {
	r, err := c.readHead(method)
	if err != nil {
		return nil, err
	}
	if err := c.readBody(r); err != nil {
		return r, err
	}
	return r, nil
}

// mustResponse is readResponse that fails the test on error.
func (c *client) mustResponse(method string) *response {
	c.t.Helper()
	r, err := c.readResponse(method)
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	return r
}

// roundTrip writes req and reads one response to it.
func (c *client) roundTrip(method, req string) *response {
	c.t.Helper()
	c.write(req)
	return c.mustResponse(method)
}

// errConnStillOpen is returned by closeState when the server kept the connection open.
var errConnStillOpen = errors.New("connection still open")

// closeState waits (up to wait) for the server to close the connection and reports
// how: nil for a clean end of stream (FIN, after all data), an error for unexpected
// bytes, a reset or a timeout.
func (c *client) closeState(wait time.Duration) error {
	if len(c.buf) > 0 {
		return fmt.Errorf("unexpected bytes after the response: %q", truncate(c.buf, 200))
	}
	var tmp [4096]byte
	c.nc.SetReadDeadline(time.Now().Add(wait))
	n, err := c.nc.Read(tmp[:])
	switch {
	case n > 0:
		return fmt.Errorf("unexpected bytes after the response: %q", tmp[:n])
	case err == io.EOF:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errConnStillOpen
	case errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("connection reset by the server: %w", err)
	default:
		return err
	}
}

// expectClosed fails the test unless the server closes the connection cleanly (EOF,
// no RST) within ioWait.
func (c *client) expectClosed() {
	c.t.Helper()
	if err := c.closeState(ioWait); err != nil {
		c.t.Fatalf("want a clean close by the server: %v", err)
	}
}

// expectOpen fails the test if the server closes the connection within d.
func (c *client) expectOpen(d time.Duration) {
	c.t.Helper()
	if err := c.closeState(d); err != errConnStillOpen {
		c.t.Fatalf("want the connection kept open, got %v", err)
	}
	c.nc.SetReadDeadline(time.Time{})
}

// waitFor receives from ch or fails the test after ioWait.
func waitFor[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(ioWait):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// textHandler answers every request with the method, path and connection position:
// "GET /a conn=1 req=2".
var textHandler = server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "%s %s conn=%d req=%d", r.Method, r.Path(), r.ConnID(), r.ConnRequests())
})

// get is a minimal HTTP/1.1 GET request.
func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n" }
