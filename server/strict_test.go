package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hop-http/hop/server"
)

// strictServer is the server of the strictness tables: every request's body is read
// by the handler (so body errors surface), and MaxRequestBody is 64 KiB.
func strictServer(t *testing.T) *testServer {
	return startServer(t, &server.Server{
		MaxRequestBody: 64 << 10,
		LingerTimeout:  ioWait,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			b, err := r.ReadBody(1 << 20)
			if err != nil {
				return // the server answers a malformed or oversized body itself
			}
			fmt.Fprintf(w, "%s %s %d:%s", r.Method, r.Path(), len(b), b)
		}),
	})
}

// head builds a request head from lines, each ended by CRLF, plus the empty line.
func head(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

func manyFields(n, valueLen int) []string {
	var fs []string
	for i := range n {
		fs = append(fs, fmt.Sprintf("X-F%d: %s", i, strings.Repeat("v", valueLen)))
	}
	return fs
}

// TestStrictRejections has one row per way a request can be bad (DESIGN.md, strictness
// policy). Each must be answered with the exact status and Connection: close, after
// which the server closes gracefully: the client, which writes its whole request
// before reading, receives the full response and then EOF, never a reset.
func TestStrictRejections(t *testing.T) {
	ts := strictServer(t)
	big := strings.Repeat("x", 100<<10)
	var chunkedBig strings.Builder
	for range 25 {
		chunkedBig.WriteString("1000\r\n" + strings.Repeat("c", 0x1000) + "\r\n")
	}
	chunkedBig.WriteString("0\r\n\r\n")

	tests := []struct {
		name   string
		req    string
		status int
	}{
		// Field syntax.
		{"whitespace between field name and colon", head("GET / HTTP/1.1", "Host : test"), 400},
		{"tab between field name and colon", head("GET / HTTP/1.1", "Host: test", "X-A\t: b"), 400},
		{"CR inside a field value", head("GET / HTTP/1.1", "Host: test", "X-A: a\rb"), 400},
		{"LF inside a field value", head("GET / HTTP/1.1", "Host: test", "X-A: a\nb"), 400},
		{"NUL inside a field value", head("GET / HTTP/1.1", "Host: test", "X-A: a\x00b"), 400},
		{"invalid token character in method", head("G@T / HTTP/1.1", "Host: test"), 400},
		{"invalid token character in field name", head("GET / HTTP/1.1", "Host: test", "X(A): b"), 400},
		{"empty field name", head("GET / HTTP/1.1", "Host: test", ": b"), 400},
		{"field line without colon", head("GET / HTTP/1.1", "Host: test", "X-A b"), 400},
		{"obs-fold", head("GET / HTTP/1.1", "Host: test", "X-A: a", " b"), 400},
		{"obs-fold with tab", head("GET / HTTP/1.1", "Host: test", "X-A: a", "\tb"), 400},
		{"bare LF line endings", "GET / HTTP/1.1\nHost: test\n\n", 400},
		{"bare LF ending the head", "GET / HTTP/1.1\r\nHost: test\r\n\n", 400},
		{"bare LF after the request line", "GET / HTTP/1.1\nHost: test\r\n\r\n", 400},
		// Request line.
		{"HTTP/0.9 request", "GET /\r\n", 400},
		{"malformed version", head("GET / HTTP/1.x", "Host: test"), 400},
		{"lower-case protocol name", head("GET / http/1.1", "Host: test"), 400},
		{"HTTP/2.0", head("GET / HTTP/2.0", "Host: test"), 505},
		{"HTTP/3.0", head("GET / HTTP/3.0", "Host: test"), 505},
		{"relative target", head("GET foo HTTP/1.1", "Host: test"), 400},
		{"two empty lines before the request line", "\r\n\r\n" + head("GET / HTTP/1.1", "Host: test"), 400},
		// Host.
		{"missing Host in HTTP/1.1", head("GET / HTTP/1.1"), 400},
		{"repeated Host", head("GET / HTTP/1.1", "Host: a", "Host: b"), 400},
		{"repeated identical Host", head("GET / HTTP/1.1", "Host: a", "Host: a"), 400},
		{"invalid Host", head("GET / HTTP/1.1", "Host: bad host"), 400},
		{"invalid Host port", head("GET / HTTP/1.1", "Host: a:8x"), 400},
		// Content-Length.
		{"Content-Length with minus sign", head("POST / HTTP/1.1", "Host: test", "Content-Length: -1"), 400},
		{"Content-Length with plus sign", head("POST / HTTP/1.1", "Host: test", "Content-Length: +5") + "hello", 400},
		{"Content-Length in hex", head("POST / HTTP/1.1", "Host: test", "Content-Length: 0x5") + "hello", 400},
		{"Content-Length with inner space", head("POST / HTTP/1.1", "Host: test", "Content-Length: 1 0") + "0123456789", 400},
		{"Content-Length empty", head("POST / HTTP/1.1", "Host: test", "Content-Length:"), 400},
		{"Content-Length overflow", head("POST / HTTP/1.1", "Host: test", "Content-Length: 99999999999999999999"), 400},
		{"Content-Length 2^63", head("POST / HTTP/1.1", "Host: test", "Content-Length: 9223372036854775808"), 400},
		{"Content-Length differing repeated fields", head("POST / HTTP/1.1", "Host: test", "Content-Length: 5", "Content-Length: 6") + "hello!", 400},
		{"Content-Length differing list", head("POST / HTTP/1.1", "Host: test", "Content-Length: 5, 6") + "hello!", 400},
		// Transfer-Encoding.
		{"Transfer-Encoding with Content-Length", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked", "Content-Length: 5") + "0\r\n\r\n", 400},
		{"Content-Length with Transfer-Encoding", head("POST / HTTP/1.1", "Host: test", "Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n", 400},
		{"final coding not chunked", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked, gzip") + "0\r\n\r\n", 400},
		{"only coding not chunked", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: gzip") + "hello", 400},
		{"chunked twice", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked, chunked") + "0\r\n\r\n", 400},
		{"Transfer-Encoding in HTTP/1.0", head("POST / HTTP/1.0", "Transfer-Encoding: chunked") + "0\r\n\r\n", 400},
		{"unknown transfer coding", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: foo, chunked") + "0\r\n\r\n", 501},
		{"supported-elsewhere coding before chunked", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: gzip, chunked") + "0\r\n\r\n", 501},
		// Chunked bodies (found while the handler reads).
		{"malformed chunk size", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "zz\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk size line with bare LF", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "5\nhello\r\n0\r\n\r\n", 400},
		{"chunk size with trailing space", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "5 \r\nhello\r\n0\r\n\r\n", 400},
		{"chunk size overflow", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "fffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk data not followed by CRLF", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "5\r\nhelloXX\r\n0\r\n\r\n", 400},
		{"chunk data followed by bare LF", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "5\r\nhello\n0\r\n\r\n", 400},
		{"obs-fold in trailer", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + "0\r\nX-T: a\r\n b\r\n\r\n", 400},
		// Expectations.
		{"Expect other than 100-continue", head("POST / HTTP/1.1", "Host: test", "Expect: 200-ok", "Content-Length: 5") + "hello", 417},
		// Limits.
		{"request line longer than 8 KiB", head("GET /"+strings.Repeat("a", 9000)+" HTTP/1.1", "Host: test"), 414},
		{"header section larger than 64 KiB", head(append([]string{"GET / HTTP/1.1", "Host: test"}, manyFields(100, 700)...)...), 431},
		{"more than 128 fields", head(append([]string{"GET / HTTP/1.1", "Host: test"}, manyFields(128, 1)...)...), 431},
		{"declared body larger than MaxRequestBody", head("POST / HTTP/1.1", "Host: test", "Content-Length: "+fmt.Sprint(len(big))) + big, 413},
		{"declared body too large, not sent", head("POST / HTTP/1.1", "Host: test", "Content-Length: 1000000000"), 413},
		{"declared body too large with 100-continue", head("POST / HTTP/1.1", "Host: test", "Expect: 100-continue", "Content-Length: 1000000"), 413},
		{"chunked body growing past MaxRequestBody", head("POST / HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") + chunkedBig.String(), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			// Write the whole request first (like a client that does not look at the
			// response before it is done sending): a server that closed without
			// draining would make the kernel answer the unread bytes with a reset,
			// which destroys the response in the client's receive buffer.
			// The write must succeed: the server reads and discards what it does not
			// want until the client is done.
			if err := waitFor(t, c.writePaced([]byte(tt.req), 16<<10), "the request to be written"); err != nil {
				t.Fatalf("writing the request: %v (the server did not drain the input)", err)
			}
			r, err := c.readResponse("GET")
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			if r.Status != tt.status {
				t.Errorf("status %d, want %d (%s)", r.Status, tt.status, r)
			}
			if !r.closes() {
				t.Errorf("response lacks Connection: close: %s", r)
			}
			if len(r.Body) == 0 {
				t.Errorf("error response has an empty body")
			}
			c.expectClosed()
		})
	}
}

// TestStrictTolerated lists what the strictness policy deliberately accepts.
func TestStrictTolerated(t *testing.T) {
	ts := strictServer(t)
	tests := []struct {
		name string
		req  string
		want string // response body
	}{
		{"one empty line before the request line", "\r\n" + head("GET /a HTTP/1.1", "Host: test"), "GET /a 0:"},
		{"OWS around field values", head("POST /b HTTP/1.1", "Host: \t test \t", "Content-Length:  3\t ") + "abc", "POST /b 3:abc"},
		{"case-insensitive field names", head("POST /c HTTP/1.1", "hOsT: test", "content-LENGTH: 3") + "abc", "POST /c 3:abc"},
		{"case-insensitive coding name", head("POST /d HTTP/1.1", "Host: test", "Transfer-Encoding: ChUnKeD") + "3\r\nabc\r\n0\r\n\r\n", "POST /d 3:abc"},
		{"Content-Length list of identical values", head("POST /e HTTP/1.1", "Host: test", "Content-Length: 5, 5") + "hello", "POST /e 5:hello"},
		{"Content-Length repeated identical fields", head("POST /f HTTP/1.1", "Host: test", "Content-Length: 5", "Content-Length: 5") + "hello", "POST /f 5:hello"},
		{"Content-Length zero", head("POST /h HTTP/1.1", "Host: test", "Content-Length: 0"), "POST /h 0:"},
		{"HTTP/1.0 without Host", head("GET /i HTTP/1.0"), "GET /i 0:"},
		{"empty Host with an absolute-form target", head("GET http://test/j HTTP/1.1", "Host:"), "GET /j 0:"},
		{"HTTP/1.2 treated as 1.1", head("GET /k HTTP/1.2", "Host: test"), "GET /k 0:"},
		{"Expect 100-continue in any case", head("POST /l HTTP/1.1", "Host: test", "Expect: 100-Continue", "Content-Length: 2") + "hi", "POST /l 2:hi"},
		{"exactly 128 fields", head(append([]string{"GET /m HTTP/1.1", "Host: test"}, manyFields(127, 1)...)...), "GET /m 0:"},
		{"absolute-form target", head("GET http://test/n?x=1 HTTP/1.1", "Host: test"), "GET /n 0:"},
		{"chunk extensions and trailer", head("POST /o HTTP/1.1", "Host: test", "Transfer-Encoding: chunked") +
			"2;a=b;c\r\nhi\r\n1 ; q=\"x y\"\r\n!\r\n0\r\nX-T: 1\r\n\r\n", "POST /o 3:hi!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			c.write(tt.req)
			r := c.mustResponse("GET")
			for r.Status/100 == 1 {
				r = c.mustResponse("GET")
			}
			if r.Status != 200 {
				t.Fatalf("status %d, want 200 (%s)", r.Status, r)
			}
			if string(r.Body) != tt.want {
				t.Errorf("body %q, want %q", r.Body, tt.want)
			}
			if r.Minor == 1 && r.closes() && !strings.Contains(tt.req, "HTTP/1.0") {
				t.Errorf("a tolerated request closed the connection: %s", r)
			}
		})
	}
}

// TestStrictPipelined: a bad request behind good ones is answered after them, in
// order, and ends the connection; the empty line some clients send after a body is
// tolerated between pipelined requests.
func TestStrictPipelined(t *testing.T) {
	ts := strictServer(t)
	c := dial(t, ts.addr)
	c.write(get("/1") + head("POST /2 HTTP/1.1", "Host: test", "Content-Length: 2") + "ok" + "\r\n" + get("/3") +
		"GET /4 HTTP/1.1\r\nHost: test\r\nBad Name: x\r\n\r\n" + get("/5"))
	for _, want := range []string{"GET /1 0:", "POST /2 2:ok", "GET /3 0:"} {
		if r := c.mustResponse("GET"); r.Status != 200 || string(r.Body) != want || r.closes() {
			t.Errorf("got %s, want 200 %q", r, want)
		}
	}
	r := c.mustResponse("GET")
	if r.Status != 400 || !r.closes() {
		t.Errorf("bad pipelined request: %s", r)
	}
	c.expectClosed() // the request after the bad one is not answered
}
