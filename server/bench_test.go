package server_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// The request TechEmpower's plaintext test sends (wrk with these three fields).
const benchRequest = "GET /plaintext HTTP/1.1\r\n" +
	"Host: localhost\r\n" +
	"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n" +
	"Connection: keep-alive\r\n\r\n"

var benchHello = []byte("Hello, World!")

// benchHandler is the plaintext handler of examples/plaintext.
var benchHandler = server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(benchHello)
})

// serveMem serves total requests, per at a time, over one in-memory connection and
// returns it once the server has closed it.
func serveMem(tb testing.TB, srv *server.Server, per, total int) *testnet.MemConn {
	c := testnet.NewMemConn([]byte(benchRequest), per, total, 4096)
	ln := testnet.NewMemListener(c)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Minute):
		tb.Fatal("in-memory connection not closed after 5 minutes")
	}
	ln.Close()
	if err := <-served; err != net.ErrClosed {
		tb.Fatalf("Serve returned %v, want net.ErrClosed", err)
	}
	return c
}

// checkHello verifies that out starts with n well-formed plaintext responses and
// returns the length of one.
func checkHello(tb testing.TB, out []byte, n int) int {
	tb.Helper()
	size := 0
	for i := 0; i < n; i++ {
		var p wire.Parser
		var resp wire.Response
		h, err := p.ParseResponse(out, &resp, []byte("GET"))
		if err != nil {
			tb.Fatalf("response %d: %v in %q", i, err, out)
		}
		end := h + int(resp.ContentLength)
		if resp.Status != 200 || !resp.KeepAlive || end > len(out) ||
			!bytes.Equal(out[h:end], benchHello) ||
			string(resp.Header.Get("Content-Type")) != "text/plain" ||
			!resp.Header.Has("Date") || !resp.Header.Has("Server") {
			tb.Fatalf("response %d is not the plaintext answer: %q", i, out)
		}
		if size == 0 {
			size = end
		} else if end != size {
			tb.Fatalf("response %d is %d bytes, the first was %d", i, end, size)
		}
		out = out[end:]
	}
	return size
}

func benchmarkMem(b *testing.B, per int) {
	// Unlimited requests per connection: the default limit would end the connection
	// (with Connection: close) after 100,000 requests.
	srv := &server.Server{Handler: benchHandler, MaxRequestsPerConn: -1}
	defer srv.Close()
	// Warm up: fill the connection pool and the cached Date.
	checkHello(b, serveMem(b, srv, per, 2*per).Output(), 2*per)
	b.ReportAllocs()
	b.ResetTimer()
	c := serveMem(b, srv, per, b.N)
	b.StopTimer()
	size := checkHello(b, c.Output(), min(b.N, 4096/200))
	if want := int64(size) * int64(b.N); c.Written() != want {
		b.Fatalf("wrote %d bytes for %d requests, want %d", c.Written(), b.N, want)
	}
}

// BenchmarkServerPlaintext measures parse, dispatch and serialize for one plaintext
// request per read and one write per response, over an in-memory connection (no system
// calls). The target is 0 allocs/op.
func BenchmarkServerPlaintext(b *testing.B) { benchmarkMem(b, 1) }

// BenchmarkServerPipelined16 is BenchmarkServerPlaintext with 16 pipelined requests per
// read, answered with one write. An op is one request.
func BenchmarkServerPipelined16(b *testing.B) { benchmarkMem(b, 16) }

// BenchmarkServerLoopback measures one request/response round trip over real TCP
// loopback: one client connection in a loop, both sides in this process (allocs/op
// counts both).
func BenchmarkServerLoopback(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &server.Server{Handler: benchHandler, MaxRequestsPerConn: -1}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Minute))
	req := []byte(benchRequest)
	// The first response tells the size of every response (the Date has a fixed width).
	if _, err := nc.Write(req); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	n := 0
	size := 0
	for size == 0 || n < size {
		m, err := nc.Read(buf[n:])
		if err != nil {
			b.Fatalf("first response: %v after %q", err, buf[:n])
		}
		n += m
		var p wire.Parser
		var resp wire.Response
		if h, err := p.ParseResponse(buf[:n], &resp, []byte("GET")); err == nil {
			size = h + int(resp.ContentLength)
		} else if err != wire.ErrNeedMore {
			b.Fatal(err)
		}
	}
	checkHello(b, buf[:size], 1)
	resp := buf[:size]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, resp); err != nil {
			b.Fatal(err)
		}
		if !bytes.HasSuffix(resp, benchHello) {
			b.Fatalf("unexpected response %q", resp)
		}
	}
}

// BenchmarkServerStream100K answers each request with one 100 KiB write, larger than
// the response buffer: the head is committed and the body goes out chunked with one
// gather write of head, chunk line, data and CRLF (writeBuffers). The target is 0
// allocs/op here too (a reused net.Buffers over the in-memory connection; on plain TCP
// the same path is one sendmsg through internal/rawio).
func BenchmarkServerStream100K(b *testing.B) {
	big := bytes.Repeat([]byte("s"), 100<<10)
	srv := &server.Server{MaxRequestsPerConn: -1, Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Write(big)
	})}
	defer srv.Close()
	serveMem(b, srv, 1, 2) // warm up
	b.ReportAllocs()
	b.ResetTimer()
	c := serveMem(b, srv, 1, b.N)
	b.StopTimer()
	var p wire.Parser
	var resp wire.Response
	out := c.Output()
	if _, err := p.ParseResponse(out, &resp, []byte("GET")); err != nil || resp.Framing != wire.FramingChunked {
		b.Fatalf("response %q: %v", out[:min(len(out), 200)], err)
	}
	if per := c.Written() / int64(b.N); per < int64(len(big)) {
		b.Fatalf("%d bytes per response", per)
	}
}
