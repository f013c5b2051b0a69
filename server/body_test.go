package server_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// TestChunkedRequestBody: chunked request bodies with extensions and trailers are
// decoded for the handler, whether they arrive at once, in small pieces or large.
func TestChunkedRequestBody(t *testing.T) {
	ts := startServer(t, &server.Server{
		ReadBufferSize: 1024,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			h := sha256.New()
			n, err := io.Copy(h, r.Body())
			if err != nil {
				w.WriteHeader(500)
				fmt.Fprintf(w, "read: %v", err)
				return
			}
			fmt.Fprintf(w, "%d %x trailer=%s,%s", n, h.Sum(nil)[:8], r.Trailer().Get("X-Sum"), r.Trailer().Get("X-Other"))
		}),
	})
	want := func(body []byte, trailer string) string {
		s := sha256.Sum256(body)
		return fmt.Sprintf("%d %x trailer=%s", len(body), s[:8], trailer)
	}
	// encode builds a chunked body of data in chunks of the given sizes, each size
	// line with an extension, and a trailer section.
	encode := func(data []byte, sizes func() int, trailer string) []byte {
		var b []byte
		for i := 0; len(data) > 0; i++ {
			n := min(sizes(), len(data))
			b = fmt.Appendf(b, "%x;i=%d;name=\"v %d\"\r\n", n, i, i)
			b = append(b, data[:n]...)
			b = append(b, "\r\n"...)
			data = data[n:]
		}
		b = append(b, "0;end\r\n"...)
		b = append(b, trailer...)
		return append(b, "\r\n"...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(rng.IntN(256))
	}
	prefix := head("POST /up HTTP/1.1", "Host: test", "Transfer-Encoding: chunked", "Trailer: X-Sum")

	t.Run("extensions and trailer in one write", func(t *testing.T) {
		c := dial(t, ts.addr)
		body := []byte("hello, chunked world")
		c.write(prefix + string(encode(body, func() int { return 5 }, "X-Sum: 42\r\nX-Other: yes\r\n")))
		if r := c.mustResponse("POST"); string(r.Body) != want(body, "42,yes") {
			t.Errorf("got %s, want %q", r, want(body, "42,yes"))
		}
		// The connection is positioned after the trailer.
		if r := c.roundTrip("POST", prefix+"0\r\n\r\n"); string(r.Body) != want(nil, ",") {
			t.Errorf("empty chunked body: %s", r)
		}
	})
	t.Run("split into tiny writes", func(t *testing.T) {
		c := dial(t, ts.addr)
		body := []byte("split across many reads")
		enc := prefix + string(encode(body, func() int { return 3 }, "X-Sum: 7\r\n"))
		c.write(enc[:len(prefix)])
		for i := len(prefix); i < len(enc); i += 4 {
			c.write(enc[i:min(i+4, len(enc))])
			time.Sleep(time.Millisecond)
		}
		if r := c.mustResponse("POST"); string(r.Body) != want(body, "7,") {
			t.Errorf("got %s, want %q", r, want(body, "7,"))
		}
	})
	t.Run("large body, random chunk sizes, pipelined", func(t *testing.T) {
		c := dial(t, ts.addr)
		enc := encode(big, func() int { return 1 + rng.IntN(20000) }, "X-Sum: big\r\n")
		req := append([]byte(prefix), enc...)
		req = append(req, req...) // twice, pipelined
		errc := c.writePaced(req, 50<<10)
		for i := range 2 {
			if r := c.mustResponse("POST"); string(r.Body) != want(big, "big,") {
				t.Errorf("request %d: got %s, want %q", i, r, want(big, "big,"))
			}
		}
		if err := waitFor(t, errc, "the upload"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ReadBody of a chunked body", func(t *testing.T) {
		ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			b, err := r.ReadBody(1 << 20)
			if err != nil {
				t.Errorf("ReadBody: %v", err)
			}
			fmt.Fprintf(w, "%d %x", len(b), sha256.Sum256(b))
		})})
		c := dial(t, ts.addr)
		errc := c.writePaced(append([]byte(prefix), encode(big, func() int { return 4096 }, "")...), 64<<10)
		if r := c.mustResponse("POST"); string(r.Body) != fmt.Sprintf("%d %x", len(big), sha256.Sum256(big)) {
			t.Errorf("got %s", r)
		}
		if err := waitFor(t, errc, "the upload"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestContentLengthRequestBody: ReadBody returns bodies that are already buffered and
// bodies that must be read from the socket; ReadBody fails beyond its max.
func TestContentLengthRequestBody(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		max, _ := strconv.ParseInt(string(r.Query()), 10, 64)
		b, err := r.ReadBody(max)
		if errors.Is(err, wire.ErrBodyTooLarge) {
			w.WriteHeader(413)
			w.WriteString("too large")
			return
		}
		if err != nil {
			t.Errorf("ReadBody: %v", err)
		}
		fmt.Fprintf(w, "%d %x", len(b), sha256.Sum256(b))
	})})
	c := dial(t, ts.addr)
	for _, size := range []int{1, 100, 5000, 200 << 10} {
		body := bytes.Repeat([]byte{'q'}, size)
		req := head("POST /?1000000 HTTP/1.1", "Host: test", "Content-Length: "+strconv.Itoa(size)) + string(body)
		errc := c.writePaced([]byte(req), 64<<10)
		if r := c.mustResponse("POST"); string(r.Body) != fmt.Sprintf("%d %x", size, sha256.Sum256(body)) {
			t.Errorf("size %d: got %s", size, r)
		}
		waitFor(t, errc, "the upload")
	}
	r := c.roundTrip("POST", head("POST /?10 HTTP/1.1", "Host: test", "Content-Length: 11")+"hello world")
	if r.Status != 413 {
		t.Errorf("body over ReadBody's max: %s", r)
	}
	// The unread body was drained: the connection still works.
	if r := c.roundTrip("POST", head("POST /?10 HTTP/1.1", "Host: test", "Content-Length: 2")+"ok"); r.Status != 200 {
		t.Errorf("after a refused body: %s", r)
	}
}

// TestChunkedResponse: a body larger than ResponseBuffer, or a Flush, streams the
// response chunked; the client decodes it with wire.ChunkedDecoder.
func TestChunkedResponse(t *testing.T) {
	proceed := make(chan struct{})
	ts := startServer(t, &server.Server{
		ResponseBuffer: 4096,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			switch string(r.Path()) {
			case "/large":
				for i := range 1000 {
					fmt.Fprintf(w, "line %04d %s\n", i, strings.Repeat("z", i%50))
				}
				w.Write(bytes.Repeat([]byte("L"), 100<<10)) // one write larger than 8 KiB
			case "/flush":
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteString("first")
				if err := w.Flush(); err != nil {
					t.Errorf("Flush: %v", err)
				}
				select {
				case <-proceed:
				case <-time.After(ioWait):
					t.Errorf("the client never saw the first part")
				}
				w.WriteString("second")
			}
		}),
	})
	var want strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&want, "line %04d %s\n", i, strings.Repeat("z", i%50))
	}
	want.WriteString(strings.Repeat("L", 100<<10))

	c := dial(t, ts.addr)
	r := c.roundTrip("GET", get("/large"))
	if r.Framing != wire.FramingChunked || r.Header.Has("Content-Length") {
		t.Errorf("large response not chunked: %s", r)
	}
	if string(r.Body) != want.String() {
		t.Errorf("large body: %d bytes, want %d", len(r.Body), want.Len())
	}

	c.write(get("/flush"))
	r, err := c.readHead("GET")
	if err != nil {
		t.Fatal(err)
	}
	if r.Framing != wire.FramingChunked || r.get("Content-Type") != "text/event-stream" {
		t.Fatalf("flushed response: %s, Content-Type %q", r, r.get("Content-Type"))
	}
	ch := &chunks{c: c}
	first, err := ch.next()
	if err != nil || string(first) != "first" {
		t.Fatalf("first piece %q, %v", first, err)
	}
	close(proceed) // the handler was still running: the first part was streamed
	var rest []byte
	for {
		p, err := ch.next()
		rest = append(rest, p...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(rest) != "second" {
		t.Errorf("rest %q", rest)
	}
	// HEAD of a streamed response: no body bytes at all.
	if r := c.roundTrip("HEAD", "HEAD /large HTTP/1.1\r\nHost: test\r\n\r\n"); len(r.Body) != 0 || r.Status != 200 {
		t.Errorf("HEAD: %s", r)
	}
	if r := c.roundTrip("GET", get("/large")); len(r.Body) != want.Len() {
		t.Errorf("after HEAD: %s", r)
	}
}

// TestSetContentLength: a declared length streams without chunking; writing less
// than declared closes the connection; writing more fails.
func TestSetContentLength(t *testing.T) {
	const size = 200000
	writeErr := make(chan error, 1)
	ts := startServer(t, &server.Server{
		ResponseBuffer: 4096,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			switch string(r.Path()) {
			case "/stream":
				w.SetContentLength(size)
				chunk := bytes.Repeat([]byte("s"), 10000)
				for range size / len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						t.Errorf("Write: %v", err)
						return
					}
				}
			case "/short":
				w.SetContentLength(10000)
				w.Write(bytes.Repeat([]byte("x"), 6000)) // streamed, then the handler stops
			case "/over":
				w.SetContentLength(6000)
				w.Write(bytes.Repeat([]byte("x"), 5000))
				_, err := w.Write(bytes.Repeat([]byte("x"), 5000))
				writeErr <- err
			case "/header":
				w.Header().Set("Content-Length", "5")
				w.WriteString("hello")
			}
		}),
	})
	c := dial(t, ts.addr)
	r := c.roundTrip("GET", get("/stream"))
	if r.Framing != wire.FramingLength || r.ContentLength != size || len(r.Body) != size || r.closes() {
		t.Errorf("streamed with length: %s, Content-Length %q", r, r.get("Content-Length"))
	}
	if r := c.roundTrip("GET", get("/header")); string(r.Body) != "hello" || r.get("Content-Length") != "5" {
		t.Errorf("Content-Length from the handler's header: %s", r)
	}

	c.write(get("/short"))
	r, err := c.readHead("GET")
	if err != nil {
		t.Fatal(err)
	}
	if r.ContentLength != 10000 {
		t.Errorf("short response: %s", r)
	}
	// The head went out before the handler stopped short, so only closing the
	// connection can tell the client.
	if err := c.readBody(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: %v, want a truncated body and a closed connection", err)
	}

	c = dial(t, ts.addr)
	c.write(get("/over"))
	if err := waitFor(t, writeErr, "the handler"); !errors.Is(err, server.ErrContentLength) {
		t.Errorf("writing past the declared length: %v, want ErrContentLength", err)
	}
	r, err = c.readHead("GET")
	if err != nil {
		t.Fatal(err)
	}
	if r.ContentLength != 6000 {
		t.Errorf("over response: %s", r)
	}
	// The stream is short of the declared length, so the connection must end.
	if err := c.readBody(r); !errors.Is(err, io.ErrUnexpectedEOF) || len(r.Body) != 5000 {
		t.Errorf("over body: %d bytes, %v", len(r.Body), err)
	}
}

// TestUnbufferedOverLength: declaring less than is written while still buffered turns
// the response into a 500 rather than a corrupt stream.
func TestBufferedOverLength(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.SetContentLength(3)
		w.WriteString("hello")
	})})
	c := dial(t, ts.addr)
	r := c.roundTrip("GET", get("/"))
	if r.Status != 500 || !r.closes() {
		t.Errorf("response %s, want 500 with Connection: close", r)
	}
	c.expectClosed()
}

// TestHTTP10Streaming: an HTTP/1.0 client cannot take chunked, so a streamed response
// of unknown length is delimited by closing the connection.
func TestHTTP10Streaming(t *testing.T) {
	ts := startServer(t, &server.Server{
		ResponseBuffer: 4096,
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			for i := range 2000 {
				fmt.Fprintf(w, "%05d\n", i)
			}
		}),
	})
	var want strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&want, "%05d\n", i)
	}
	for _, req := range []string{"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"} {
		c := dial(t, ts.addr)
		r := c.roundTrip("GET", req)
		if r.Framing != wire.FramingClose || r.Header.Has("Transfer-Encoding") || r.Header.Has("Content-Length") || !r.closes() {
			t.Errorf("%q: %s, want close-delimited", req, r)
		}
		if string(r.Body) != want.String() {
			t.Errorf("%q: body %d bytes, want %d", req, len(r.Body), want.Len())
		}
	}
}

// TestNoBodyStatuses: 204 and 304 carry no body and no length; Write fails.
func TestNoBodyStatuses(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		code, _ := strconv.Atoi(string(r.Path()[1:]))
		w.WriteHeader(code)
		if _, err := w.WriteString("body"); !errors.Is(err, server.ErrBodyNotAllowed) {
			t.Errorf("Write on %d: %v", code, err)
		}
	})})
	c := dial(t, ts.addr)
	for _, code := range []int{204, 304} {
		r := c.roundTrip("GET", get(fmt.Sprintf("/%d", code)))
		if r.Status != code || r.Header.Has("Content-Length") || r.Header.Has("Transfer-Encoding") || r.closes() {
			t.Errorf("%d: %s", code, r)
		}
	}
}

// TestBodilessDeclaredLength: a response that carries no body (204, 304, any answer to
// HEAD) may declare a length (RFC 9110 §8.6: a 304 or a HEAD response tells the length
// the GET would have; a proxy relays it) without sending it, so the length written
// cannot fall short of it and the connection stays open: the second of two pipelined
// requests is answered on it.
func TestBodilessDeclaredLength(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		q := string(r.Query())
		code, _ := strconv.Atoi(string(r.Path()[1:]))
		if strings.Contains(q, "field") {
			w.Header().Set("Content-Length", "1234")
		} else {
			w.SetContentLength(1234)
		}
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(code)
		if strings.Contains(q, "part") {
			w.WriteString("part of it") // HEAD: counted, never sent
		}
		if strings.Contains(q, "flush") {
			w.Flush()
		}
	})})
	for _, tc := range []struct{ method, target string }{
		{"GET", "/304?field"}, {"GET", "/304?set"}, {"GET", "/304?field,flush"},
		{"GET", "/204?field"}, {"GET", "/204?set,flush"},
		{"HEAD", "/200?field"}, {"HEAD", "/200?set,flush"}, {"HEAD", "/200?field,part"},
		{"HEAD", "/200?set,part,flush"}, {"HEAD", "/304?field"},
	} {
		c := dial(t, ts.addr)
		req := tc.method + " " + tc.target + " HTTP/1.1\r\nHost: test\r\n\r\n"
		c.write(req + req)
		for i := range 2 {
			r, err := c.readResponse(tc.method)
			if err != nil {
				t.Fatalf("%s %s: response %d: %v", tc.method, tc.target, i+1, err)
			}
			if r.closes() || r.get("ETag") != `"x"` || len(r.Body) != 0 {
				t.Errorf("%s %s: response %d: %s, Connection %q", tc.method, tc.target, i+1, r, r.get("Connection"))
			}
			if tc.method == "HEAD" && r.Status == 200 && r.get("Content-Length") != "1234" {
				t.Errorf("%s %s: Content-Length %q, want the declared 1234", tc.method, tc.target, r.get("Content-Length"))
			}
			if r.Status == 204 && r.Header.Has("Content-Length") {
				t.Errorf("%s %s: a 204 with Content-Length %q", tc.method, tc.target, r.get("Content-Length"))
			}
		}
		c.expectOpen(50 * time.Millisecond)
	}
}

// TestReadFromFile: ReadFrom with a declared length sends a file exactly. (On plain TCP
// that is the sendfile path; this test checks the bytes, not which system call sent them.)
func TestReadFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	content := bytes.Repeat([]byte("0123456789abcdef"), 50000) // 800 KB
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		st, _ := f.Stat()
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Query() != nil {
			w.SetContentLength(st.Size())
		}
		n, err := w.ReadFrom(f)
		if err != nil || n != st.Size() {
			t.Errorf("ReadFrom: %d, %v", n, err)
		}
	})})
	c := dial(t, ts.addr)
	for _, target := range []string{"/file?len", "/file"} {
		r := c.roundTrip("GET", get(target))
		if !bytes.Equal(r.Body, content) || r.closes() {
			t.Errorf("%s: %s", target, r)
		}
	}
	if r := c.roundTrip("HEAD", "HEAD /file?len HTTP/1.1\r\nHost: test\r\n\r\n"); r.get("Content-Length") != strconv.Itoa(len(content)) {
		t.Errorf("HEAD: %s, Content-Length %q", r, r.get("Content-Length"))
	}
}

// TestResponseHeaders: Server and Date are added unless the handler set them; the
// fields the server manages (framing and connection) cannot be forged by a handler.
func TestResponseHeaders(t *testing.T) {
	handler := server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		h := w.Header()
		switch string(r.Path()) {
		case "/own":
			h.Set("Server", "mine")
			h.Set("Date", "Mon, 01 Jan 2001 00:00:00 GMT")
		case "/forge":
			h.Set("Transfer-Encoding", "chunked")
			h.Set("Keep-Alive", "timeout=1")
			h.Set("Connection", "keep-alive, X-Other")
		}
		h.Set("X-Custom", "v")
		w.WriteString("body")
	})
	ts := startServer(t, &server.Server{Handler: handler})
	c := dial(t, ts.addr)
	r := c.roundTrip("GET", get("/"))
	if r.get("Server") != "hop" || len(r.get("Date")) != len("Mon, 01 Jan 2001 00:00:00 GMT") || r.get("X-Custom") != "v" {
		t.Errorf("default fields: Server %q, Date %q, X-Custom %q", r.get("Server"), r.get("Date"), r.get("X-Custom"))
	}
	if _, err := time.Parse(time.RFC1123, r.get("Date")); err != nil || !strings.HasSuffix(r.get("Date"), " GMT") {
		t.Errorf("Date %q is not an IMF-fixdate: %v", r.get("Date"), err)
	}
	r = c.roundTrip("GET", get("/own"))
	n := 0
	r.Header.Values("Server", func([]byte) { n++ })
	if r.get("Server") != "mine" || n != 1 || r.get("Date") != "Mon, 01 Jan 2001 00:00:00 GMT" {
		t.Errorf("handler's own Server/Date: %q (%d), %q", r.get("Server"), n, r.get("Date"))
	}
	r = c.roundTrip("GET", get("/forge"))
	if string(r.Body) != "body" || r.Framing != wire.FramingLength || r.Header.Has("Transfer-Encoding") || r.Header.Has("Keep-Alive") {
		t.Errorf("forged framing fields leaked: %s, TE %q, Keep-Alive %q", r, r.get("Transfer-Encoding"), r.get("Keep-Alive"))
	}
	if r := c.roundTrip("GET", get("/")); string(r.Body) != "body" {
		t.Errorf("connection unusable after forged fields: %s", r)
	}

	for _, tc := range []struct{ name, want string }{{"-", ""}, {"custom/1.0", "custom/1.0"}} {
		ts := startServer(t, &server.Server{Handler: handler, Name: tc.name})
		r := dial(t, ts.addr).roundTrip("GET", get("/"))
		if r.get("Server") != tc.want || r.Header.Has("Server") != (tc.want != "") {
			t.Errorf("Name %q: Server %q", tc.name, r.get("Server"))
		}
	}
}
