package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// okHandler answers every request 200 "OK" and never reads the body: the handler of
// the public conformance suite hop is scored with.
var okHandler = server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
	w.WriteString("OK")
})

func chunkedPost(body string) string {
	return head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + body
}

// Strict at every byte whatever the handler does: a body the handler left unread is
// drained before its response leaves, and when that body turns out malformed the
// response that has not left becomes the 400 (then a graceful close), as if the
// handler had read it.
func TestUnreadMalformedChunkedBody(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: okHandler, LingerTimeout: ioWait})
	for _, tt := range []struct{ name, body string }{
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
		{"underscore in the size", "1_0\r\n" + strings.Repeat("a", 16) + "\r\n0\r\n\r\n"},
		{"leading space", " 5\r\nhello\r\n0\r\n\r\n"},
		{"trailing space", "5 \r\nhello\r\n0\r\n\r\n"},
		{"size overflow", "fffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
		{"bare semicolon", "5;\r\nhello\r\n0\r\n\r\n"},
		{"control character in an extension", "5;a\x01b\r\nhello\r\n0\r\n\r\n"},
		{"bare CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n"},
		{"bare LF after the size", "5\nhello\r\n0\r\n\r\n"},
		{"data not followed by CRLF", "5\r\nhelloXX0\r\n\r\n"},
		{"data followed by LF only", "5\r\nhello\n0\r\n\r\n"},
		{"no size", "\r\nhello\r\n0\r\n\r\n"},
		{"malformed trailer", "5\r\nhello\r\n0\r\nBad Name: x\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			c.write(chunkedPost(tt.body))
			r := c.mustResponse("POST")
			if r.Status != 400 || !r.closes() {
				t.Fatalf("response %s, want 400 and Connection: close", r)
			}
			c.expectClosed()
		})
	}
}

// With pipelining, the requests before the malformed one keep their answers; the bad
// one gets the 400 and nothing after it is served.
func TestUnreadMalformedBodyPipelined(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: okHandler, LingerTimeout: ioWait})
	c := dial(t, ts.addr)
	c.write(get("/1") + chunkedPost("3\r\nabc\r\n0\r\n\r\n") + chunkedPost("3\r\nabcXX") + get("/4"))
	for i, want := range []int{200, 200, 400} {
		if r := c.mustResponse("POST"); r.Status != want {
			t.Fatalf("response %d: %s, want %d", i+1, r, want)
		}
	}
	c.expectClosed()
}

// A response that has left cannot be taken back: a handler that flushed gets its 200
// through (its head left without Connection: close), and the connection closes after
// it.
func TestUnreadMalformedBodyAfterFlush(t *testing.T) {
	ts := startServer(t, &server.Server{LingerTimeout: ioWait, Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.WriteString("early")
		w.Flush()
	})})
	c := dial(t, ts.addr)
	c.write(chunkedPost("0x5\r\nhello\r\n0\r\n\r\n"))
	if r := c.mustResponse("POST"); r.Status != 200 || string(r.Body) != "early" {
		t.Fatalf("response %s, want the flushed 200 and a close", r)
	}
	c.expectClosed()
}

// A response committed (streaming started) but still in the server's output buffer
// has not left: it becomes the 400.
func TestUnreadMalformedBodyCommittedNotSent(t *testing.T) {
	ts := startServer(t, &server.Server{ResponseBuffer: 4, LingerTimeout: ioWait,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			w.WriteString("more than four bytes") // commits: chunked, still buffered
		})})
	c := dial(t, ts.addr)
	c.write(get("/first") + chunkedPost("5;\r\nhello\r\n0\r\n\r\n"))
	if r := c.mustResponse("GET"); r.Status != 200 || string(r.Body) != "more than four bytes" {
		t.Fatalf("first response %s", r)
	}
	if r := c.mustResponse("POST"); r.Status != 400 {
		t.Fatalf("second response %s, want 400", r)
	}
	c.expectClosed()
}

// The drain is bounded: a valid body larger than MaxBodyDrain is not read to its end;
// the handler's response goes out with Connection: close (the lingering close then
// discards the rest), and so does a malformed part beyond the bound.
func TestUnreadBodyBeyondDrain(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: okHandler, MaxBodyDrain: 1000, LingerTimeout: ioWait})
	var big strings.Builder
	for range 4 {
		big.WriteString("200\r\n" + strings.Repeat("d", 0x200) + "\r\n")
	}
	c := dial(t, ts.addr)
	c.write(chunkedPost(big.String() + "0x5\r\nhello\r\n0\r\n\r\n"))
	if r := c.mustResponse("POST"); r.Status != 200 || !r.closes() {
		t.Fatalf("response %s, want 200 with Connection: close", r)
	}
	c.expectClosed()
}

// The drain counts the bytes read from the connection, not only the data: a body of
// a few data bytes under long chunk extensions exceeds MaxBodyDrain and is not
// drained (before, 200 data bytes under 41 KB of extensions were read to the end and
// the connection kept). What is already buffered costs no read and is not counted.
func TestUnreadBodyDrainCountsFraming(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: okHandler, MaxBodyDrain: 1000, LingerTimeout: ioWait})
	var body strings.Builder
	for range 200 {
		body.WriteString("1;ext=" + strings.Repeat("x", 200) + "\r\na\r\n")
	}
	body.WriteString("0\r\n\r\n")
	c := dial(t, ts.addr)
	c.write(chunkedPost(body.String()) + get("/after"))
	if r := c.mustResponse("POST"); r.Status != 200 || !r.closes() {
		t.Fatalf("response %s, want 200 with Connection: close", r)
	}
	c.expectClosed()
}

// The drain is bounded in time as a whole, not per read: a body trickling in a byte
// every 20 ms (each read well within BodyReadTimeout) is given up after the linger
// time, and the response goes out with Connection: close instead of after the 8 s the
// body would take.
func TestUnreadBodyDrainTimeBound(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: okHandler, BodyReadTimeout: ioWait, LingerTimeout: 300 * time.Millisecond})
	c := dial(t, ts.addr)
	c.write(head("POST / HTTP/1.1", "Host: test", "Content-Length: 400"))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for range 400 {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := c.nc.Write([]byte("b")); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	r := c.mustResponse("POST")
	if r.Status != 200 || !r.closes() {
		t.Fatalf("response %s, want 200 with Connection: close", r)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("response after %v: the drain was not bounded in time", d)
	}
}

// A WebSocket upgrade asking for a version other than 13 gets 426 with the version the
// server speaks, before any handler runs; version 13, HTTP/1.0 and a request that does
// not upgrade reach the handler.
func TestWebSocketVersion(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: okHandler})
	ws := func(version string, minor int) string {
		lines := []string{fmt.Sprintf("GET /chat HTTP/1.%d", minor), "Host: test", "Connection: Upgrade", "Upgrade: websocket",
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}
		if version != "" {
			lines = append(lines, "Sec-WebSocket-Version: "+version)
		}
		return head(lines...)
	}
	c := dial(t, ts.addr)
	r := c.roundTrip("GET", ws("99", 1))
	if r.Status != 426 || r.get("Sec-WebSocket-Version") != "13" || !r.Header.HasToken("Upgrade", "websocket") {
		t.Fatalf("version 99: %s %v", r, &r.Header)
	}
	c.expectClosed()
	for _, tt := range []struct{ name, req string }{
		{"version 13", ws("13", 1)},
		{"no version", ws("", 1)},
		{"HTTP/1.0", ws("99", 0)},
		{"no Connection: upgrade", head("GET / HTTP/1.1", "Host: test", "Upgrade: websocket", "Sec-WebSocket-Version: 99")},
	} {
		c := dial(t, ts.addr)
		if r := c.roundTrip("GET", tt.req); r.Status != 200 {
			t.Errorf("%s: %s, want the handler's 200", tt.name, r)
		}
	}
}

// Request trailers never carry framing or routing fields into what a handler sees.
func TestRequestTrailerFiltered(t *testing.T) {
	got := make(chan string, 1)
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		r.ReadBody(1 << 10)
		var names []string
		for i := 0; i < r.Trailer().Len(); i++ {
			n, _ := r.Trailer().At(i)
			names = append(names, string(n))
		}
		got <- strings.Join(names, ",")
	})})
	c := dial(t, ts.addr)
	c.roundTrip("POST", chunkedPost("1\r\na\r\n0\r\nContent-Length: 5\r\nX-Sum: 1\r\nHost: evil\r\nTransfer-Encoding: chunked\r\n\r\n"))
	if names := waitFor(t, got, "the handler"); names != "X-Sum" {
		t.Fatalf("trailer fields seen: %q, want only X-Sum", names)
	}
}

// Error responses to HEAD carry no content (RFC 9110 §9.3.2), whether the server
// refuses the head while parsing it, after it (413), or as a whole (431): the status
// line and fields, with the Content-Length the text would have, and nothing after
// them that a pipelining client would read as the next response.
func TestHeadErrorsWithoutContent(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: okHandler, MaxRequestBody: 10, LingerTimeout: ioWait,
		Limits: wire.Limits{MaxHeaderBytes: 2048}})
	for _, tt := range []struct {
		name, req string
		status    int
	}{
		{"bad field", head("HEAD / HTTP/1.1", "Host: test", "Bad Name: x"), 400},
		{"body too large", head("HEAD / HTTP/1.1", "Host: test", "Content-Length: 11"), 413},
		{"head too large", head("HEAD / HTTP/1.1", "Host: test", "X-Big: "+strings.Repeat("a", 4096)), 431},
		{"after an empty line", "\r\n" + head("HEAD / HTTP/1.1", "Host: test", "Bad Name: x"), 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			c.write(tt.req)
			r := c.mustResponse("HEAD")
			if r.Status != tt.status || r.get("Content-Length") == "" || r.get("Content-Length") == "0" || len(r.Body) != 0 {
				t.Fatalf("response %s (Content-Length %q), want %d with a length and no content", r, r.get("Content-Length"), tt.status)
			}
			c.expectClosed()
		})
	}
	// A GET refused alike still gets the text.
	c := dial(t, ts.addr)
	c.write(head("GET / HTTP/1.1", "Host: test", "Bad Name: x"))
	if r := c.mustResponse("GET"); r.Status != 400 || len(r.Body) == 0 {
		t.Fatalf("GET: %s, want 400 with its text", r)
	}
	c.expectClosed()
}
