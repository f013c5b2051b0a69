package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// TestPipelinedBatch sends GET, HEAD, GET in one write: the three responses come in
// order, the HEAD one with Content-Length but no body, all in one write.
func TestPipelinedBatch(t *testing.T) {
	ln := newCountingListener(t)
	ts := startServerOn(t, &server.Server{Handler: textHandler}, ln)
	c := dial(t, ts.addr)
	c.write(get("/a") + "HEAD /b HTTP/1.1\r\nHost: test\r\n\r\n" + get("/c"))
	sc := ln.next(t)

	r1 := c.mustResponse("GET")
	r2 := c.mustResponse("HEAD")
	r3 := c.mustResponse("GET")
	if got, want := string(r1.Body), "GET /a conn=1 req=1"; got != want {
		t.Errorf("first body %q, want %q", got, want)
	}
	if r2.Status != 200 || len(r2.Body) != 0 {
		t.Errorf("HEAD response %s, want 200 without body", r2)
	}
	if got, want := r2.get("Content-Length"), fmt.Sprint(len("HEAD /b conn=1 req=2")); got != want {
		t.Errorf("HEAD Content-Length %q, want %q (the length a GET would have)", got, want)
	}
	if got, want := string(r3.Body), "GET /c conn=1 req=3"; got != want {
		t.Errorf("third body %q, want %q", got, want)
	}
	for i, r := range []*response{r1, r2, r3} {
		if r.closes() {
			t.Errorf("response %d closes the connection", i+1)
		}
	}
	if len(c.buf) != 0 {
		t.Errorf("extra bytes after three responses: %q", c.buf)
	}
	if n := sc.writes.Load(); n != 1 {
		t.Errorf("the server made %d writes for three pipelined responses, want 1", n)
	}
	// The connection is still usable.
	if r := c.roundTrip("GET", get("/d")); string(r.Body) != "GET /d conn=1 req=4" {
		t.Errorf("after the pipeline: %s", r)
	}
}

// TestPipelinedBurst pipelines 100 requests in one write and expects 100 responses in
// request order, batched into far fewer writes than responses.
func TestPipelinedBurst(t *testing.T) {
	const n = 100
	ln := newCountingListener(t)
	ts := startServerOn(t, &server.Server{Handler: textHandler}, ln)
	c := dial(t, ts.addr)
	var b strings.Builder
	for i := range n {
		if i%10 == 9 {
			fmt.Fprintf(&b, "HEAD /%d HTTP/1.1\r\nHost: test\r\n\r\n", i)
		} else {
			b.WriteString(get(fmt.Sprintf("/%d", i)))
		}
	}
	c.write(b.String())
	sc := ln.next(t)
	for i := range n {
		method := "GET"
		if i%10 == 9 {
			method = "HEAD"
		}
		r := c.mustResponse(method)
		want := fmt.Sprintf("%s /%d conn=1 req=%d", method, i, i+1)
		if method == "HEAD" {
			if len(r.Body) != 0 || r.get("Content-Length") != fmt.Sprint(len(want)) {
				t.Fatalf("response %d: %s, want HEAD response with Content-Length %d", i, r, len(want))
			}
			continue
		}
		if string(r.Body) != want {
			t.Fatalf("response %d: body %q, want %q", i, r.Body, want)
		}
	}
	c.write(get("/last") + "")
	if r := c.mustResponse("GET"); string(r.Body) != fmt.Sprintf("GET /last conn=1 req=%d", n+1) {
		t.Errorf("after the burst: %s", r)
	}
	// 100 responses in one or a few writes (the requests may arrive in several reads).
	if w := sc.writes.Load(); w > n/4 {
		t.Errorf("%d writes for %d pipelined responses: not batched", w, n+1)
	}
}

// TestPipelinedAfterBody pipelines requests with bodies of both framings between
// bodiless ones; the handlers read some bodies and leave others for the server to
// discard.
func TestPipelinedAfterBody(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if r.Query() != nil {
			b, err := r.ReadBody(1 << 20)
			if err != nil {
				t.Errorf("ReadBody: %v", err)
			}
			fmt.Fprintf(w, "%s read %q", r.Path(), b)
			return
		}
		fmt.Fprintf(w, "%s", r.Path())
	})})
	c := dial(t, ts.addr)
	c.write(get("/1") +
		head("POST /2?read HTTP/1.1", "Host: test", "Content-Length: 5") + "hello" +
		head("POST /3 HTTP/1.1", "Host: test", "Content-Length: 5") + "world" +
		head("POST /4?read HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "3\r\nabc\r\n0\r\n\r\n" +
		head("POST /5 HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "3\r\ndef\r\n0\r\n\r\n" +
		get("/6"))
	for _, want := range []string{`/1`, `/2 read "hello"`, `/3`, `/4 read "abc"`, `/5`, `/6`} {
		r := c.mustResponse("GET")
		if string(r.Body) != want || r.closes() {
			t.Errorf("got %s, want body %q and keep-alive", r, want)
		}
	}
}

// TestKeepAliveVersions covers persistence by protocol version and Connection field.
func TestKeepAliveVersions(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: textHandler, IdleTimeout: 5 * time.Second})

	t.Run("HTTP/1.0 default closes", func(t *testing.T) {
		c := dial(t, ts.addr)
		r := c.roundTrip("GET", "GET /x HTTP/1.0\r\n\r\n")
		if r.Status != 200 || r.Header.Has("Keep-Alive") || r.Header.HasToken("Connection", "keep-alive") {
			t.Errorf("HTTP/1.0 response %s offers keep-alive: Connection %q, Keep-Alive %q", r, r.get("Connection"), r.get("Keep-Alive"))
		}
		if r.KeepAlive {
			t.Errorf("response does not end the connection for an HTTP/1.0 client")
		}
		c.expectClosed()
	})
	t.Run("HTTP/1.0 keep-alive", func(t *testing.T) {
		c := dial(t, ts.addr)
		r := c.roundTrip("GET", "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if !r.Header.HasToken("Connection", "keep-alive") {
			t.Errorf("Connection %q, want keep-alive", r.get("Connection"))
		}
		if r.KATimeout != 5 || r.KAMax != server.DefaultMaxRequestsPerConn-1 {
			t.Errorf("Keep-Alive %q, want timeout=5, max=%d", r.get("Keep-Alive"), server.DefaultMaxRequestsPerConn-1)
		}
		if r.ContentLength != int64(len(r.Body)) || r.Framing != wire.FramingLength {
			t.Errorf("keep-alive HTTP/1.0 response is not length-delimited: %s", r)
		}
		c.expectOpen(100 * time.Millisecond)
		r2 := c.roundTrip("GET", "GET /y HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
		if !strings.HasSuffix(string(r2.Body), "req=2") || r2.closes() {
			t.Errorf("second request on the HTTP/1.0 connection: %s", r2)
		}
		// Without keep-alive the next one ends the connection.
		r3 := c.roundTrip("GET", "GET /z HTTP/1.0\r\n\r\n")
		if !strings.HasSuffix(string(r3.Body), "req=3") || r3.Header.Has("Keep-Alive") {
			t.Errorf("third request: %s, Keep-Alive %q", r3, r3.get("Keep-Alive"))
		}
		c.expectClosed()
	})
	t.Run("HTTP/1.1 persistent by default", func(t *testing.T) {
		c := dial(t, ts.addr)
		r1 := c.roundTrip("GET", get("/1"))
		c.expectOpen(100 * time.Millisecond)
		r2 := c.roundTrip("GET", get("/2"))
		if r1.closes() || r2.closes() || r1.Header.Has("Keep-Alive") {
			t.Errorf("HTTP/1.1 responses: %q / %q, Keep-Alive %q", r1.get("Connection"), r2.get("Connection"), r1.get("Keep-Alive"))
		}
		id := strings.Fields(string(r1.Body))[2]
		if want := "GET /2 " + id + " req=2"; string(r2.Body) != want {
			t.Errorf("second response %q, want %q (same connection)", r2.Body, want)
		}
	})
	t.Run("HTTP/1.1 Connection: close from the client", func(t *testing.T) {
		c := dial(t, ts.addr)
		r := c.roundTrip("GET", head("GET /bye HTTP/1.1", "Host: test", "Connection: close"))
		if r.Status != 200 || !r.closes() {
			t.Errorf("response %s, Connection %q: want 200 with Connection: close", r, r.get("Connection"))
		}
		c.expectClosed()
	})
	t.Run("HTTP/1.1 handler asks to close", func(t *testing.T) {
		ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			if r.Path()[1] == 'h' {
				w.Header().Set("Connection", "close")
			} else {
				w.CloseAfter()
			}
			w.WriteString("bye")
		})})
		for _, path := range []string{"/header", "/closeafter"} {
			c := dial(t, ts.addr)
			r := c.roundTrip("GET", get(path))
			if !r.closes() || string(r.Body) != "bye" || strings.Count(r.get("Connection"), "close") != 1 {
				t.Errorf("%s: %s, Connection %q", path, r, r.get("Connection"))
			}
			c.expectClosed()
		}
	})
}

// TestMaxRequestsPerConn: the last allowed response closes, and HTTP/1.0 keep-alive
// advertises the countdown in Keep-Alive: max.
func TestMaxRequestsPerConn(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: textHandler, MaxRequestsPerConn: 3, IdleTimeout: 7 * time.Second})
	t.Run("HTTP/1.1", func(t *testing.T) {
		c := dial(t, ts.addr)
		for i := 1; i <= 3; i++ {
			r := c.roundTrip("GET", get("/"))
			if !strings.HasSuffix(string(r.Body), fmt.Sprintf("req=%d", i)) {
				t.Fatalf("request %d: %s", i, r)
			}
			if r.closes() != (i == 3) {
				t.Errorf("request %d: Connection %q", i, r.get("Connection"))
			}
		}
		c.expectClosed()
	})
	t.Run("HTTP/1.1 pipelined past the limit", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(get("/1") + get("/2") + get("/3") + get("/4"))
		for i := 1; i <= 3; i++ {
			r := c.mustResponse("GET")
			if r.closes() != (i == 3) {
				t.Errorf("request %d: Connection %q", i, r.get("Connection"))
			}
		}
		c.expectClosed() // the fourth request is not answered
	})
	t.Run("HTTP/1.0 Keep-Alive max countdown", func(t *testing.T) {
		c := dial(t, ts.addr)
		for i := 1; i <= 3; i++ {
			r := c.roundTrip("GET", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			if i < 3 {
				if !r.Header.HasToken("Connection", "keep-alive") || r.KAMax != 3-i || r.KATimeout != 7 {
					t.Errorf("request %d: Connection %q, Keep-Alive %q; want keep-alive, timeout=7, max=%d",
						i, r.get("Connection"), r.get("Keep-Alive"), 3-i)
				}
			} else if !r.closes() || r.Header.Has("Keep-Alive") {
				t.Errorf("last request: Connection %q, Keep-Alive %q; want close", r.get("Connection"), r.get("Keep-Alive"))
			}
		}
		c.expectClosed()
	})
}

// TestLingerOnlyWhenMoreMayFollow: the server closes after a response at once when
// the client asked to close and sent nothing more, and lingers (shuts down its write
// side and drains) when more input may follow: bytes past the request, or a close the
// client did not ask for. Every response arrives whole, followed by a clean end of
// stream.
func TestLingerOnlyWhenMoreMayFollow(t *testing.T) {
	tests := []struct {
		name   string
		maxReq int // MaxRequestsPerConn
		send   string
		n      int // responses expected
		linger bool
	}{
		{"client asks to close", 0, head("GET / HTTP/1.1", "Host: test", "Connection: close"), 1, false},
		{"HTTP/1.0", 0, head("GET / HTTP/1.0"), 1, false},
		{"input past the request", 0,
			head("GET / HTTP/1.1", "Host: test", "Connection: close") + get("/ignored"), 1, true},
		{"server's limit", 1, get("/"), 1, true},
		{"pipelined, then close", 0,
			get("/a") + head("GET /b HTTP/1.1", "Host: test", "Connection: close"), 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := newCountingListener(t)
			srv := &server.Server{Handler: textHandler, LingerTimeout: ioWait, MaxRequestsPerConn: tt.maxReq}
			ts := startServerOn(t, srv, ln)
			c := dial(t, ts.addr)
			c.write(tt.send)
			sc := ln.next(t)
			for i := 0; i < tt.n; i++ {
				if r := c.mustResponse("GET"); r.Status != 200 || r.closes() != (i == tt.n-1) {
					t.Fatalf("response %d: %s", i+1, r)
				}
			}
			if tt.linger {
				// The server waits for our FIN while it lingers; closing our write side
				// ends it.
				c.nc.(*net.TCPConn).CloseWrite()
			}
			c.expectClosed()
			if got := sc.closeWrites.Load() > 0; got != tt.linger {
				t.Errorf("lingered %v, want %v", got, tt.linger)
			}
		})
	}
}

// TestLingeringCloseBadRequest: a request rejected at its head, followed by a 1 MB
// body the server never wants. The client sends everything before it reads; it must
// receive the complete 400 and a clean end of stream, not a reset.
func TestLingeringCloseBadRequest(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: textHandler, LingerTimeout: ioWait})
	c := dial(t, ts.addr)
	req := head("POST /upload HTTP/1.1", "Host: test", "Bad Header: x", "Content-Length: 1048576")
	data := append([]byte(req), bytes.Repeat([]byte("b"), 1<<20)...)
	if err := waitFor(t, c.writePaced(data, 64<<10), "the upload"); err != nil {
		t.Fatalf("upload failed: %v (the server closed without draining)", err)
	}
	r := c.mustResponse("POST")
	if r.Status != 400 || !r.closes() {
		t.Errorf("response %s, want 400 with Connection: close", r)
	}
	c.expectClosed()
}

// TestLingeringCloseUnreadBody: the handler ignores a 1 MB body that exceeds
// MaxBodyDrain, so the server cannot reuse the connection: the response says
// Connection: close and still reaches the client whole.
func TestLingeringCloseUnreadBody(t *testing.T) {
	ts := startServer(t, &server.Server{
		MaxBodyDrain:  64 << 10,
		LingerTimeout: ioWait,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			w.WriteHeader(403)
			w.WriteString(strings.Repeat("denied ", 1000))
		}),
	})
	c := dial(t, ts.addr)
	req := head("POST /upload HTTP/1.1", "Host: test", "Content-Length: 1048576")
	data := append([]byte(req), bytes.Repeat([]byte("b"), 1<<20)...)
	if err := waitFor(t, c.writePaced(data, 64<<10), "the upload"); err != nil {
		t.Fatalf("upload failed: %v (the server closed without draining)", err)
	}
	r := c.mustResponse("POST")
	if r.Status != 403 || !r.closes() || len(r.Body) != 7000 {
		t.Errorf("response %s, want the whole 403 with Connection: close", r)
	}
	c.expectClosed()
}

// TestUnreadBodyDrained: a small unread body is discarded by the server and the
// connection stays usable.
func TestUnreadBodyDrained(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: textHandler, MaxBodyDrain: 64 << 10})
	c := dial(t, ts.addr)
	r := c.roundTrip("POST", head("POST /a HTTP/1.1", "Host: test", "Content-Length: 40000")+strings.Repeat("z", 40000))
	if r.closes() {
		t.Fatalf("drainable body closed the connection: %s", r)
	}
	if r := c.roundTrip("GET", get("/b")); !strings.HasSuffix(string(r.Body), "req=2") {
		t.Errorf("second request: %s", r)
	}
}

// TestExpectContinue: 100 Continue is sent only when the handler reads the body.
func TestExpectContinue(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if r.Path()[1] == 'n' { // /noread
			w.WriteHeader(403)
			w.WriteString("not wanted")
			return
		}
		b, err := io.ReadAll(r.Body())
		if err != nil {
			t.Errorf("reading body: %v", err)
		}
		fmt.Fprintf(w, "got %s", b)
	})})

	t.Run("handler reads", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(head("PUT /read HTTP/1.1", "Host: test", "Expect: 100-continue", "Content-Length: 5"))
		r := c.mustResponse("PUT")
		if r.Status != 100 {
			t.Fatalf("first response %s, want 100 Continue", r)
		}
		c.write("hello")
		r = c.mustResponse("PUT")
		if r.Status != 200 || string(r.Body) != "got hello" || r.closes() {
			t.Errorf("final response %s", r)
		}
		// Chunked with 100-continue, on the same connection.
		c.write(head("PUT /read HTTP/1.1", "Host: test", "Expect: 100-continue", "Transfer-Encoding: chunked"))
		if r := c.mustResponse("PUT"); r.Status != 100 {
			t.Fatalf("first response %s, want 100 Continue", r)
		}
		c.write("3\r\nabc\r\n0\r\n\r\n")
		if r := c.mustResponse("PUT"); string(r.Body) != "got abc" {
			t.Errorf("final response %s", r)
		}
	})
	t.Run("handler does not read", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(head("PUT /noread HTTP/1.1", "Host: test", "Expect: 100-continue", "Content-Length: 5"))
		r := c.mustResponse("PUT")
		if r.Status != 403 || string(r.Body) != "not wanted" {
			t.Fatalf("response %s, want the final 403 and no 100 Continue", r)
		}
		if !r.closes() {
			t.Errorf("the body was neither sent nor read, yet the connection is kept: %s", r)
		}
		c.expectClosed()
	})
	t.Run("no 100 after the final response started", func(t *testing.T) {
		ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			w.WriteString("early ")
			w.Flush() // the final response is committed before the body is read
			b, err := io.ReadAll(r.Body())
			if err != nil {
				t.Errorf("reading body: %v", err)
			}
			w.Write(b)
		})})
		c := dial(t, ts.addr)
		c.write(head("PUT /early HTTP/1.1", "Host: test", "Expect: 100-continue", "Content-Length: 5"))
		r, err := c.readHead("PUT")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 || r.Framing != wire.FramingChunked {
			t.Fatalf("head %s, want the streamed final 200", r)
		}
		ch := &chunks{c: c}
		if p, err := ch.next(); err != nil || string(p) != "early " {
			t.Fatalf("first piece %q, %v", p, err)
		}
		c.write("hello") // a client that saw a final status may still send the body
		var rest []byte
		for {
			p, err := ch.next()
			rest = append(rest, p...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("rest of the body after %q: %v (a 100 Continue inside the final response?)", rest, err)
			}
		}
		if string(rest) != "hello" {
			t.Errorf("rest %q, want %q", rest, "hello")
		}
	})
	t.Run("HTTP/1.0 ignores Expect", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(head("PUT /read HTTP/1.0", "Expect: 100-continue", "Content-Length: 2") + "hi")
		r := c.mustResponse("PUT")
		if r.Status != 200 || string(r.Body) != "got hi" {
			t.Errorf("response %s, want 200 without 100 Continue", r)
		}
	})
}

// TestIdleTimeout: a connection with no request in flight is closed after IdleTimeout,
// however the server holds it while idle. The bound (4 s for a 300 ms timeout) only
// catches a timeout that is not enforced or is extended by the parking grace period.
func TestIdleTimeout(t *testing.T) {
	modes := append(idleModes[:len(idleModes):len(idleModes)], struct {
		name string
		set  func(*server.Server)
	}{"long park grace", func(s *server.Server) { s.ParkAfter = 8 * time.Second }})
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel() // sleep-bound: the modes wait side by side
			s := &server.Server{Handler: textHandler, IdleTimeout: 300 * time.Millisecond}
			mode.set(s)
			ts := startServer(t, s)
			t.Run("after a request", func(t *testing.T) {
				c := dial(t, ts.addr)
				if r := c.roundTrip("GET", get("/")); r.closes() {
					t.Fatalf("response closes: %s", r)
				}
				if err := c.closeState(4 * time.Second); err != nil {
					t.Errorf("idle connection after a request: %v", err)
				}
			})
			t.Run("before any request", func(t *testing.T) {
				c := dial(t, ts.addr)
				if err := c.closeState(4 * time.Second); err != nil {
					t.Errorf("connection without a request: %v", err)
				}
			})
		})
	}
}

// TestReadHeaderTimeout: a slowloris client that never finishes its head gets 408 and
// a closed connection, even when it keeps trickling bytes.
func TestReadHeaderTimeout(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: textHandler, ReadHeaderTimeout: 300 * time.Millisecond, LingerTimeout: time.Second})
	t.Run("stalled head", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write("GET / HTTP/1.1\r\nHost: test\r\n")
		r := c.mustResponse("GET")
		if r.Status != 408 || !r.closes() {
			t.Errorf("response %s, want 408 with Connection: close", r)
		}
		c.expectClosed()
	})
	t.Run("trickling head", func(t *testing.T) {
		c := dial(t, ts.addr)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // one field byte every 20 ms: the head never ends
			defer close(done)
			c.nc.Write([]byte("GET / HTTP/1.1\r\nHost: test\r\nX-Slow: "))
			for range 500 {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := c.nc.Write([]byte("a")); err != nil {
					return
				}
			}
		}()
		defer func() { close(stop); <-done }()
		r := c.mustResponse("GET")
		if r.Status != 408 || !r.closes() {
			t.Errorf("response %s, want 408 with Connection: close", r)
		}
		if err := c.closeState(ioWait); err != nil && err != errConnStillOpen {
			t.Errorf("after the 408: %v", err)
		}
	})
}

// TestBodyReadTimeout: a body that stops arriving fails the handler's read, and the
// connection is closed (with, at most, a 408).
func TestBodyReadTimeout(t *testing.T) {
	for _, tc := range []struct{ name, req string }{
		{"content-length", head("POST / HTTP/1.1", "Host: test", "Content-Length: 10") + "abc"},
		{"chunked", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "a\r\nabc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readErr := make(chan error, 1)
			ts := startServer(t, &server.Server{
				BodyReadTimeout: 300 * time.Millisecond,
				Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
					_, err := io.ReadAll(r.Body())
					readErr <- err
					w.WriteString("unreachable")
				}),
			})
			c := dial(t, ts.addr)
			c.write(tc.req)
			if err := waitFor(t, readErr, "the body read to time out"); err == nil {
				t.Fatal("reading a stalled body succeeded")
			} else {
				t.Logf("handler's read error: %v", err)
			}
			// The stream is unusable: no 200, the connection ends.
			var tmp [4096]byte
			var got []byte
			c.nc.SetReadDeadline(time.Now().Add(ioWait))
			for {
				n, err := c.nc.Read(tmp[:])
				got = append(got, tmp[:n]...)
				if err != nil {
					if err != io.EOF {
						t.Errorf("after the timeout: %v", err)
					}
					break
				}
			}
			if len(got) > 0 {
				c.buf = got
				r, err := c.readResponse("POST")
				if err != nil || r.Status != 408 || !r.closes() {
					t.Errorf("after a body timeout the server sent %q, want nothing or a 408", got)
				}
			}
		})
	}
}

// TestHeadSplitAcrossReads: a head that arrives one byte per segment parses.
func TestHeadSplitAcrossReads(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: textHandler})
	c := dial(t, ts.addr)
	req := head("GET /split?x=1 HTTP/1.1", "Host: test", "X-A: b")
	for i := range len(req) {
		c.write(req[i : i+1])
		time.Sleep(time.Millisecond)
	}
	r := c.mustResponse("GET")
	if string(r.Body) != "GET /split conn=1 req=1" {
		t.Errorf("response %s", r)
	}
	// A second request split in the middle of a field, pipelined behind a third.
	c.write("GET /two HTTP/1.1\r\nHo")
	time.Sleep(20 * time.Millisecond)
	c.write("st: test\r\n\r\n" + get("/three"))
	for _, want := range []string{"GET /two conn=1 req=2", "GET /three conn=1 req=3"} {
		if r := c.mustResponse("GET"); string(r.Body) != want {
			t.Errorf("got %s, want %q", r, want)
		}
	}
}

// TestHeadLargerThanReadBuffer: 20 KB of fields with a 4 KiB read buffer parse, and
// requests after it on the connection still work.
func TestHeadLargerThanReadBuffer(t *testing.T) {
	ts := startServer(t, &server.Server{
		ReadBufferSize: 4096,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			fmt.Fprintf(w, "%d %s", r.Header.Len(), r.Header.Get("X-F99"))
		}),
	})
	fields := manyFields(100, 200)
	req := head(append([]string{"GET /big HTTP/1.1", "Host: test"}, fields...)...)
	if len(req) < 20000 {
		t.Fatalf("head is only %d bytes", len(req))
	}
	c := dial(t, ts.addr)
	c.write(req + req + get("/small"))
	want := "101 " + strings.Repeat("v", 200)
	for i := range 2 {
		if r := c.mustResponse("GET"); string(r.Body) != want {
			t.Errorf("big head %d: %s", i, r)
		}
	}
	if r := c.mustResponse("GET"); string(r.Body) != "1 " {
		t.Errorf("small request after big heads: %s", r)
	}
}

// TestContextCanceledOnDisconnect: the handler's context ends when the client closes
// the connection while the handler runs.
func TestContextCanceledOnDisconnect(t *testing.T) {
	started := make(chan struct{}, 1)
	result := make(chan error, 1)
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		ctx := r.Context()
		started <- struct{}{}
		select {
		case <-ctx.Done():
			result <- nil
		case <-time.After(3 * ioWait):
			result <- errors.New("context not canceled")
		}
	})})
	c := dial(t, ts.addr)
	c.write(get("/wait"))
	waitFor(t, started, "the handler to start")
	c.nc.Close()
	if err := waitFor(t, result, "the context to be canceled"); err != nil {
		t.Fatal(err)
	}
}

// TestContextNotCanceledWhileClientWaits: the context stays alive while the client
// keeps the connection open, and the next (pipelined) request is still served.
func TestContextNotCanceledWhileClientWaits(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		ctx := r.Context()
		select {
		case <-ctx.Done():
			w.WriteString("canceled")
		case <-time.After(200 * time.Millisecond):
			w.WriteString("alive " + string(r.Path()))
		}
	})})
	c := dial(t, ts.addr)
	c.write(get("/1"))
	time.Sleep(50 * time.Millisecond)
	c.write(get("/2")) // arrives while the first handler watches the connection
	for _, want := range []string{"alive /1", "alive /2"} {
		if r := c.mustResponse("GET"); string(r.Body) != want {
			t.Errorf("got %s, want %q", r, want)
		}
	}
}

// TestHandlerPanic: a panic before the response is committed becomes a 500 and a
// closed connection; after the commit the connection is cut, so the client sees a
// truncated message; ErrAbortHandler closes silently.
func TestHandlerPanic(t *testing.T) {
	rec := &logRecorder{}
	ts := startServer(t, &server.Server{
		ResponseBuffer: 1024,
		Logger:         slog.New(rec),
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			switch string(r.Path()) {
			case "/before":
				w.Header().Set("X-Partial", "yes")
				w.WriteString("partial")
				panic("boom")
			case "/after":
				w.WriteString(strings.Repeat("x", 4000)) // past ResponseBuffer: committed
				w.Flush()
				panic("boom after commit")
			case "/abort":
				panic(server.ErrAbortHandler)
			}
			w.WriteString("fine")
		}),
	})

	t.Run("before commit", func(t *testing.T) {
		c := dial(t, ts.addr)
		r := c.roundTrip("GET", get("/before"))
		if r.Status != 500 || !r.closes() || r.Header.Has("X-Partial") || strings.Contains(string(r.Body), "partial") {
			t.Errorf("response %s, headers %q; want a clean 500 with Connection: close", r, r.Header.Get("X-Partial"))
		}
		c.expectClosed()
	})
	t.Run("after commit", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(get("/after"))
		r, err := c.readHead("GET")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 || r.Framing != wire.FramingChunked {
			t.Fatalf("head %s, want a streamed 200", r)
		}
		if err := c.readBody(r); err == nil {
			t.Errorf("body of a response whose handler panicked is complete (%d bytes)", len(r.Body))
		} else if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("want a truncated body, got %v", err)
		}
	})
	t.Run("ErrAbortHandler", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.write(get("/abort"))
		if r, err := c.readResponse("GET"); err == nil {
			t.Errorf("aborted handler produced a response: %s", r)
		}
	})
	t.Run("server still serves", func(t *testing.T) {
		c := dial(t, ts.addr)
		if r := c.roundTrip("GET", get("/ok")); string(r.Body) != "fine" {
			t.Errorf("response %s", r)
		}
	})
	msgs := rec.messages()
	if n := len(slices.DeleteFunc(msgs, func(m string) bool { return !strings.Contains(m, "panic") })); n != 2 {
		t.Errorf("logged %d panics, want 2 (ErrAbortHandler is not logged): %q", n, rec.messages())
	}
}

// TestConnectionIDs: ConnID distinguishes connections and ConnRequests counts
// requests on each, RemoteAddr is the client's address.
func TestConnectionIDs(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		fmt.Fprintf(w, "%d %d %s %v", r.ConnID(), r.ConnRequests(), r.RemoteAddr(), r.TLS() == nil)
	})})
	c1, c2 := dial(t, ts.addr), dial(t, ts.addr)
	a := strings.Fields(string(c1.roundTrip("GET", get("/")).Body))
	b := strings.Fields(string(c2.roundTrip("GET", get("/")).Body))
	a2 := strings.Fields(string(c1.roundTrip("GET", get("/")).Body))
	if a[0] == b[0] || a2[0] != a[0] || a[1] != "1" || a2[1] != "2" || b[1] != "1" {
		t.Errorf("conn ids/counts: %v %v %v", a, b, a2)
	}
	if a[2] != c1.nc.LocalAddr().String() || a[3] != "true" {
		t.Errorf("RemoteAddr %s, want %s; TLS nil %s", a[2], c1.nc.LocalAddr(), a[3])
	}
}

// TestServeErrors: Serve without a handler fails; Serve after Close returns
// ErrServerClosed; ConnState sees every connection open and close.
func TestServeErrors(t *testing.T) {
	ln := newCountingListener(t)
	defer ln.Close()
	if err := (&server.Server{}).Serve(ln); err == nil || errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve without Handler: %v", err)
	}
	s := &server.Server{Handler: textHandler}
	s.Close()
	if err := s.Serve(ln); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	var opened, closed atomic.Int64
	s2 := &server.Server{Handler: textHandler, ConnState: func(_ server.ConnInfo, st server.ConnState) {
		if st == server.StateNew {
			opened.Add(1)
		} else if st == server.StateClosed {
			closed.Add(1)
		}
	}}
	ts := startServer(t, s2)
	for range 3 {
		c := dial(t, ts.addr)
		c.roundTrip("GET", head("GET / HTTP/1.1", "Host: test", "Connection: close"))
		c.expectClosed()
		c.nc.Close() // ends the server's lingering close
	}
	deadline := time.Now().Add(ioWait)
	for opened.Load() != 3 || closed.Load() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("ConnState saw %d opens and %d closes, want 3 and 3", opened.Load(), closed.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWriteTimeout: a client that stops reading makes the handler's writes fail once
// WriteTimeout passes, instead of blocking the connection forever.
func TestWriteTimeout(t *testing.T) {
	writeErr := make(chan error, 1)
	ts := startServer(t, &server.Server{
		WriteTimeout: 500 * time.Millisecond,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			chunk := bytes.Repeat([]byte("w"), 64<<10)
			for range 1600 { // up to 100 MB, far more than the socket buffers hold
				if _, err := w.Write(chunk); err != nil {
					writeErr <- err
					return
				}
			}
			writeErr <- nil
		}),
	})
	c := dial(t, ts.addr)
	c.write(get("/flood"))
	// Never read.
	if err := waitFor(t, writeErr, "the write to time out"); err == nil {
		t.Fatal("100 MB were written to a client that reads nothing")
	}
}

// TestIdleTimeoutRestartsPerRequest: IdleTimeout counts from the end of the last
// response, so a client that sends a request every 50 ms keeps its connection for
// longer than the timeout (here 900 ms, over 1.5 s of traffic).
func TestIdleTimeoutRestartsPerRequest(t *testing.T) {
	for _, mode := range idleModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel() // sleep-bound: the modes wait side by side
			s := &server.Server{Handler: textHandler, IdleTimeout: 900 * time.Millisecond}
			mode.set(s)
			ts := startServer(t, s)
			c := dial(t, ts.addr)
			start := time.Now()
			for i := 1; time.Since(start) < 1500*time.Millisecond && i < 1000; i++ {
				c.write(get("/"))
				r, err := c.readResponse("GET")
				if err != nil {
					t.Fatalf("request %d, %v after the first: %v (closed while the client was active)", i, time.Since(start).Round(time.Millisecond), err)
				}
				if !strings.HasSuffix(string(r.Body), fmt.Sprintf("req=%d", i)) {
					t.Fatalf("request %d: %s", i, r)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestBodyReadTimeoutPerRead: BodyReadTimeout bounds each read, not the whole body: a
// body that keeps arriving every 100 ms is read to the end although it takes longer
// than the timeout (700 ms).
func TestBodyReadTimeoutPerRead(t *testing.T) {
	for _, mode := range idleModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel() // sleep-bound: the modes wait side by side
			s := &server.Server{
				BodyReadTimeout: 700 * time.Millisecond,
				Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
					b, err := io.ReadAll(r.Body())
					if err != nil {
						w.WriteHeader(500)
						fmt.Fprintf(w, "after %d bytes: %v", len(b), err)
						return
					}
					fmt.Fprintf(w, "%d", len(b))
				}),
			}
			mode.set(s)
			ts := startServer(t, s)
			c := dial(t, ts.addr)
			const pieces = 15
			c.write(head("POST /slow HTTP/1.1", "Host: test", fmt.Sprintf("Content-Length: %d", pieces*10)))
			for range pieces {
				time.Sleep(100 * time.Millisecond)
				c.nc.SetWriteDeadline(time.Now().Add(ioWait))
				if _, err := c.nc.Write([]byte("0123456789")); err != nil {
					break // the response below says why
				}
			}
			if r := c.mustResponse("POST"); r.Status != 200 || string(r.Body) != fmt.Sprint(pieces*10) {
				t.Errorf("slow but steady body: %s", r)
			}
		})
	}
}

// TestClientHalfClose: a client that shuts down its write side after sending its
// requests (printf ... | nc -N) still receives every response, then EOF, also when
// the handler watches its context or runs through the net/http adapter.
func TestClientHalfClose(t *testing.T) {
	handlers := []struct {
		name string
		h    server.Handler
	}{
		{"native", textHandler},
		{"native with Context", server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			ctx := r.Context()
			time.Sleep(20 * time.Millisecond)
			select {
			case <-ctx.Done():
				w.WriteString("client gone")
			default:
				w.WriteString("served " + string(r.Path()))
			}
		})},
		{"net/http adapter", server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond)
			io.WriteString(w, "served "+r.URL.Path)
		}))},
	}
	for _, h := range handlers {
		t.Run(h.name, func(t *testing.T) {
			ts := startServer(t, &server.Server{Handler: h.h})
			for _, n := range []int{1, 3} {
				c := dial(t, ts.addr)
				var reqs strings.Builder
				for i := range n {
					reqs.WriteString(get(fmt.Sprintf("/%d", i)))
				}
				c.write(reqs.String())
				if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				for i := range n {
					r, err := c.readResponse("GET")
					if err != nil {
						t.Fatalf("%d requests then half-close: response %d: %v", n, i, err)
					}
					if r.Status != 200 || !strings.Contains(string(r.Body), fmt.Sprintf("/%d", i)) && !strings.Contains(string(r.Body), "gone") {
						t.Errorf("%d requests then half-close: response %d: %s", n, i, r)
					}
				}
				c.expectClosed()
			}
		})
	}
}
