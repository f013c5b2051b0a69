package proxy

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

// TestRequestBodyStreams: Content-Length and chunked request bodies reach the origin
// intact (chunked re-framed by the client side).
func TestRequestBodyStreams(t *testing.T) {
	rc := &recorder{handle: func(w *server.ResponseWriter, r *server.Request) {}}
	origin := serve(t, rc)
	addr, _ := forwardProxy(t, nil)
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	resp, _ := get(t, addr, fmt.Sprintf("POST http://%s/up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", origin, len(big), big))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var chunked strings.Builder
	for i := 0; i < len(big); i += 50000 {
		part := big[i:min(i+50000, len(big))]
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", len(part), part)
	}
	chunked.WriteString("0\r\n\r\n")
	resp, _ = get(t, addr, "PUT http://"+origin+"/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+chunked.String())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) != 2 || rc.bodies[0] != big || rc.bodies[1] != big {
		t.Errorf("bodies at the origin: %d, sizes %d", len(rc.bodies), len(rc.bodies[0]))
	}
	if te := fieldLines(rc.heads[1], "Transfer-Encoding"); len(te) != 1 || te[0] != "chunked" {
		t.Errorf("chunked request re-framed as %q", te)
	}
}

// TestLargeResponseStreams: a body far larger than every buffer arrives whole, with
// its Content-Length, and a chunked one is re-chunked.
func TestLargeResponseStreams(t *testing.T) {
	const size = 32 << 20
	origin := serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if string(r.Path()) == "/cl" {
			w.SetContentLength(size)
		}
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		for n := 0; n < size; n += len(buf) {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}))
	addr, _ := forwardProxy(t, nil)
	want := sha256.New()
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for n := 0; n < size; n += len(buf) {
		want.Write(buf)
	}
	for _, path := range []string{"/cl", "/chunked"} {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		resp, body := roundTrip(t, c, br, "GET http://"+origin+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || len(body) != size || fmt.Sprintf("%x", sha256.Sum256([]byte(body))) != fmt.Sprintf("%x", want.Sum(nil)) {
			t.Errorf("%s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		wantCL := int64(-1)
		if path == "/cl" {
			wantCL = size
		}
		if resp.ContentLength != wantCL {
			t.Errorf("%s: Content-Length %d, want %d (TE %v)", path, resp.ContentLength, wantCL, resp.TransferEncoding)
		}
	}
}

// TestExpectContinueForwarded: the client waits for 100 Continue; it comes when the
// origin asks for the body. When the origin answers without reading it (417 here),
// the client never has to send it.
func TestExpectContinueForwarded(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := forwardProxy(t, nil)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "POST http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if rest, _ := br.ReadString('\n'); rest != "\r\n" {
		t.Fatalf("100 Continue head not empty: %q", rest)
	}
	io.WriteString(c, "hello")
	resp, body := readResponse(t, br, "POST")
	if resp.StatusCode != 200 || body != "origin says hi" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	rc.mu.Lock()
	got := rc.bodies[0]
	rc.mu.Unlock()
	if got != "hello" {
		t.Errorf("origin body %q", got)
	}
	if v := fieldLines(rc.last(t), "Expect"); len(v) != 1 {
		t.Errorf("Expect at origin: %q", v)
	}
}

func TestExpectContinueRefused(t *testing.T) {
	origin := serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.WriteHeader(417) // answers without reading the body
	}))
	addr, _ := forwardProxy(t, nil)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "POST http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	resp, _ := readResponse(t, br, "POST")
	if resp.StatusCode != 417 {
		t.Errorf("status %d, want the origin's 417 without sending the body", resp.StatusCode)
	}
}

func TestHeadAndNoBodyStatuses(t *testing.T) {
	origin := serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		switch string(r.Path()) {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(304)
		default:
			w.WriteString("twelve bytes")
		}
	}))
	addr, _ := forwardProxy(t, nil)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	resp, body := roundTrip(t, c, br, "HEAD http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 12 {
		t.Errorf("HEAD: %d %q CL %d", resp.StatusCode, body, resp.ContentLength)
	}
	resp, _ = roundTrip(t, c, br, "GET http://"+origin+"/204 HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 204 {
		t.Errorf("204: %d", resp.StatusCode)
	}
	resp, _ = roundTrip(t, c, br, "GET http://"+origin+"/304 HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 304 || resp.Header.Get("ETag") != `"v1"` {
		t.Errorf("304: %d %v", resp.StatusCode, resp.Header)
	}
	// The connection is still in sync after bodiless responses.
	resp, body = roundTrip(t, c, br, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || body != "twelve bytes" {
		t.Errorf("after: %d %q", resp.StatusCode, body)
	}
}

// TestMalformedRequestBody: a chunked request body that breaks the framing midway is
// answered 400 by the server; the upstream exchange is abandoned.
func TestMalformedRequestBody(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := forwardProxy(t, nil)
	c := dial(t, addr)
	io.WriteString(c, "POST http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
	resp, err := readStatus(bufio.NewReader(c))
	if err != nil || resp != 400 {
		t.Errorf("status %d, %v; want 400", resp, err)
	}
}

// TestTrailersForwarded: the trailer of a chunked upstream response reaches the
// client after the body, announced, whether the body is buffered or streamed.
func TestTrailersForwarded(t *testing.T) {
	var o rawOrigin
	big := strings.Repeat("z", 100000) // beyond the server's response buffer: streamed
	origin := o.start(t, func(n int, head string) string {
		body := "5\r\nhello\r\n"
		if strings.Contains(head, "/big") {
			body = fmt.Sprintf("%x\r\n%s\r\n", len(big), big)
		}
		return "HTTP/1.1 200 OK\r\nTrailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
			"0\r\nX-Checksum: abc123\r\nContent-Length: 99\r\n\r\n"
	})
	addr, _ := forwardProxy(t, nil)
	for _, path := range []string{"/small", "/big"} {
		c := dial(t, addr)
		resp, body := roundTrip(t, c, bufio.NewReader(c), "GET http://"+origin+path+" HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
		if resp.StatusCode != 200 || (path == "/small" && body != "hello") || (path == "/big" && body != big) {
			t.Fatalf("%s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
			t.Errorf("%s: trailer %v, want X-Checksum: abc123", path, resp.Trailer)
		}
		if resp.Trailer.Get("Content-Length") != "" {
			t.Errorf("%s: a Content-Length trailer was forwarded", path)
		}
	}
	// An HTTP/1.0 client gets the body without trailers (it cannot receive them).
	c := dial(t, addr)
	resp, body := roundTrip(t, c, bufio.NewReader(c), "GET http://"+origin+"/small HTTP/1.0\r\n\r\n")
	if resp.StatusCode != 200 || body != "hello" || len(resp.Trailer) != 0 {
		t.Errorf("HTTP/1.0: %d %q trailer %v", resp.StatusCode, body, resp.Trailer)
	}
}

// TestSlowClientDoesNotStallOthers: a client that stops reading a large response holds
// only its own connections; other clients are served meanwhile.
func TestSlowClientDoesNotStallOthers(t *testing.T) {
	const size = 64 << 20
	origin := serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if string(r.Path()) != "/big" {
			w.WriteString("quick")
			return
		}
		w.SetContentLength(size)
		buf := make([]byte, 64<<10)
		for n := 0; n < size; n += len(buf) {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}))
	addr, _ := forwardProxy(t, nil)
	slow := dial(t, addr)
	io.WriteString(slow, "GET http://"+origin+"/big HTTP/1.1\r\nHost: x\r\n\r\n")
	// The slow client reads nothing: its socket buffers and the proxy's fill up.
	time.Sleep(200 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				done <- err
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET http://"+origin+"/q HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				if string(b) != "quick" {
					err = fmt.Errorf("request %d: %q", i, b)
				}
			}
			c.Close()
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("other clients stalled behind a slow one")
	}
}

// pausingOrigin sends head and first, then waits until goOn is closed (or 15 s), then
// sends rest.
func pausingOrigin(t *testing.T, head, first, rest string, goOn <-chan struct{}) string {
	return testnet.Raw(t, func(c net.Conn, _ int) {
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := readHead(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, head+first)
		select {
		case <-goOn:
		case <-time.After(15 * time.Second):
		}
		io.WriteString(c, rest)
	})
}

// TestPausedUpstreamStreams: when the upstream pauses after a piece of its body
// (server-sent events, long polling), the client gets the head and that piece at once,
// not when the next bytes or the end arrive; with chunked and with Content-Length
// bodies, in both modes. Nothing here is timed: the origin waits until the client has
// the first piece, so a proxy that holds it back fails at the read deadline.
func TestPausedUpstreamStreams(t *testing.T) {
	for _, tc := range []struct{ name, head, first, rest, firstOut string }{
		{"chunked", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
			"9\r\ndata: 1\n\n\r\n", "9\r\ndata: 2\n\n\r\n0\r\n\r\n", "data: 1\n\n"},
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n", "data: 1\n\n", "data: 2\n\n", "data: 1\n\n"},
		{"head only", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "", "data: 1\n\n", ""},
	} {
		for _, mode := range []string{"forward", "reverse"} {
			t.Run(tc.name+" "+mode, func(t *testing.T) {
				goOn := make(chan struct{})
				defer close(goOn)
				origin := pausingOrigin(t, tc.head, tc.first, tc.rest, goOn)
				addr, target := proxyFor(t, mode, origin, "/events")
				c := dial(t, addr)
				io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("the head did not arrive while the upstream paused: %v", err)
				}
				buf := make([]byte, len(tc.firstOut))
				if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != tc.firstOut {
					t.Fatalf("the first piece did not arrive while the upstream paused: %q, %v", buf, err)
				}
			})
		}
	}
}

// TestFastUpstreamBatched: pieces that arrive together are written together: 200
// small chunks sent in one burst before a pause reach the client in a few writes, not
// one write (system call) per chunk.
func TestFastUpstreamBatched(t *testing.T) {
	var burst strings.Builder
	for i := range 200 {
		fmt.Fprintf(&burst, "10\r\nevent %010d\r\n", i)
	}
	goOn := make(chan struct{})
	defer close(goOn)
	origin := pausingOrigin(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", burst.String(), "0\r\n\r\n", goOn)
	var writes atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: &Proxy{Exchanger: &Transport{Client: testClient(t)}}}
	go srv.Serve(countingListener{ln, &writes})
	t.Cleanup(func() { srv.Close() })
	c := dial(t, ln.Addr().String())
	io.WriteString(c, "GET http://"+origin+"/burst HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 200*16)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatalf("the burst did not arrive while the upstream paused: %v", err)
	}
	if n := writes.Load(); n > 20 {
		t.Errorf("200 chunks that arrived in one burst took %d writes to the client", n)
	}
}

// countingListener counts the writes on the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}
