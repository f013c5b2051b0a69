package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/neterr"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// echoConn answers with the server's connection id and request number, so tests can
// see connection reuse from the server's side.
func echoConn(w *server.ResponseWriter, r *server.Request) {
	w.Header().Set("X-Conn", strconv.FormatUint(r.ConnID(), 10))
	w.Header().Set("X-Conn-Requests", strconv.Itoa(r.ConnRequests()))
	w.Header().Set("X-Method", string(r.Method))
	if conn := r.Header.Get("Connection"); conn != nil {
		w.Header().Set("X-Req-Connection", string(conn))
	}
	body, err := r.ReadBody(1 << 20)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	w.Write([]byte(string(r.Method) + " " + string(r.Target) + " " + string(body)))
}

func TestKeepAliveReuse(t *testing.T) {
	base := startHop(t, echoConn)
	cl := newClient(t, nil)
	var first string
	for i := 1; i <= 5; i++ {
		resp := get(t, cl, base+"/n/"+strconv.Itoa(i))
		if resp.Status != 200 || string(resp.Body) != "GET /n/"+strconv.Itoa(i)+" " {
			t.Fatalf("request %d: %d %q", i, resp.Status, resp.Body)
		}
		conn := string(resp.Header.Get("X-Conn"))
		if i == 1 {
			first = conn
		} else if conn != first {
			t.Fatalf("request %d on server conn %s, want %s (reuse)", i, conn, first)
		}
		if got := string(resp.Header.Get("X-Conn-Requests")); got != strconv.Itoa(i) {
			t.Errorf("request %d is the server's request %s on the connection", i, got)
		}
		if resp.Reused != (i > 1) || resp.ConnID != 1 {
			t.Errorf("request %d: Reused=%v ConnID=%d", i, resp.Reused, resp.ConnID)
		}
	}
	s := cl.Stats()
	if s.NewConns != 1 || s.Reused != 4 || s.Idle != 1 || s.Active != 0 || s.Open != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestConnectionClose(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*Request)
		handler  server.HandlerFunc
		wantWhy  string
		wantSent string // Connection field the server received
	}{
		{name: "request Close", setup: func(r *Request) { r.Close = true }, handler: echoConn,
			wantWhy: "request asked to close", wantSent: "close"},
		{name: "request Connection field", setup: func(r *Request) { r.Header.Set("Connection", "close") },
			handler: echoConn, wantWhy: "request asked to close", wantSent: "close"},
		{name: "server closes", setup: func(*Request) {}, handler: func(w *server.ResponseWriter, r *server.Request) {
			w.CloseAfter()
			echoConn(w, r)
		}, wantWhy: "server asked to close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := startHop(t, tt.handler)
			var reasons []string
			cl := newClient(t, &Client{Trace: &Trace{Done: func(i DoneInfo) {
				reasons = append(reasons, i.CloseReason)
			}}})
			for i := 0; i < 3; i++ {
				var req Request
				req.SetURL(base + "/")
				tt.setup(&req)
				var resp Response
				if err := cl.Do(&req, &resp); err != nil {
					t.Fatal(err)
				}
				if resp.Reused || resp.ConnID != uint64(i+1) {
					t.Errorf("request %d: conn %d reused=%v, want a new connection", i, resp.ConnID, resp.Reused)
				}
				if got := string(resp.Header.Get("X-Req-Connection")); got != tt.wantSent {
					t.Errorf("server got Connection %q, want %q", got, tt.wantSent)
				}
			}
			for _, r := range reasons {
				if r != tt.wantWhy {
					t.Errorf("close reason %q, want %q", r, tt.wantWhy)
				}
			}
			if s := cl.Stats(); s.Open != 0 || s.Closed != 3 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestHTTP10Request(t *testing.T) {
	var got []string
	var mu sync.Mutex
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		mu.Lock()
		got = append(got, fmt.Sprintf("1.%d %s", r.Minor, r.Header.Get("Connection")))
		mu.Unlock()
		w.Write([]byte("ok"))
	})
	cl := newClient(t, nil)
	var req Request
	req.HTTP10 = true
	req.SetURL(base + "/")
	var resp Response
	for i := 0; i < 2; i++ {
		if err := cl.Do(&req, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Reused != (i == 1) {
			t.Errorf("request %d reused=%v", i, resp.Reused)
		}
	}
	if v := resp.Header.Get("Keep-Alive"); !bytes.Contains(v, []byte("timeout=")) {
		t.Errorf("Keep-Alive = %q", v)
	}
	mu.Lock()
	seen := fmt.Sprint(got)
	mu.Unlock()
	if seen != "[1.0 keep-alive 1.0 keep-alive]" {
		t.Errorf("server saw %v", seen)
	}
}

// serveScript runs a raw server whose connections answer requests with the given
// responses, one per request, in order across connections; "CLOSE" closes the
// connection instead of answering.
func serveScript(t *testing.T, responses ...string) (string, func() []*testRequest) {
	var mu sync.Mutex
	next := 0
	return serveRequests(t, func(*testRequest) string {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(responses) {
			return "CLOSE"
		}
		next++
		return responses[next-1]
	})
}

func TestResponseFraming(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		response  string
		wantBody  string
		wantKeep  bool
		wantTrail string
		wantLen   int64 // Response.ContentLength
	}{
		{name: "content-length", response: okResponse("hello"), wantBody: "hello", wantKeep: true, wantLen: 5},
		{name: "empty", response: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", wantKeep: true},
		{name: "chunked", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 42\r\n\r\n",
			wantBody: "hello world", wantKeep: true, wantTrail: "42", wantLen: -1},
		{name: "close-delimited", response: "HTTP/1.1 200 OK\r\n\r\nuntil the end|CLOSE",
			wantBody: "until the end", wantLen: -1},
		{name: "HTTP/1.0 close-delimited", response: "HTTP/1.0 200 OK\r\n\r\nold|CLOSE", wantBody: "old", wantLen: -1},
		{name: "HTTP/1.0 keep-alive", response: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
			wantBody: "ok", wantKeep: true, wantLen: 2},
		{name: "HEAD", method: "HEAD", response: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", wantKeep: true,
			wantLen: 1000},
		{name: "HEAD without length", method: "HEAD", response: "HTTP/1.1 200 OK\r\n\r\n", wantKeep: true, wantLen: -1},
		{name: "204", response: "HTTP/1.1 204 No Content\r\n\r\n", wantKeep: true},
		{name: "304", response: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", wantKeep: true},
		{name: "1xx first", response: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" +
			okResponse("final"), wantBody: "final", wantKeep: true, wantLen: 5},
		{name: "server close", response: okResponse("bye", "Connection: close"), wantBody: "bye", wantLen: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := serveScript(t, tt.response, okResponse("second"))
			cl := newClient(t, nil)
			var req Request
			req.Method = tt.method
			req.SetURL(url + "/")
			var resp Response
			if err := cl.Do(&req, &resp); err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != tt.wantBody || resp.KeepAlive != tt.wantKeep {
				t.Errorf("body %q keep %v, want %q %v", resp.Body, resp.KeepAlive, tt.wantBody, tt.wantKeep)
			}
			if got := string(resp.Trailer.Get("X-Sum")); got != tt.wantTrail {
				t.Errorf("trailer %q, want %q", got, tt.wantTrail)
			}
			if resp.ContentLength != tt.wantLen {
				t.Errorf("ContentLength %d, want %d", resp.ContentLength, tt.wantLen)
			}
			// The second request shows whether the connection was kept.
			req.Method = ""
			if err := cl.Do(&req, &resp); err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != "second" || resp.Reused != tt.wantKeep {
				t.Errorf("second: %q reused=%v, want reused=%v", resp.Body, resp.Reused, tt.wantKeep)
			}
		})
	}
}

func TestTruncatedBody(t *testing.T) {
	tests := []struct{ name, response string }{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part|CLOSE"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n|CLOSE"},
		{"chunked mid-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhel|CLOSE"},
		{"head", "HTTP/1.1 200 OK\r\nContent-Le|CLOSE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, reqs := serveScript(t, okResponse("one"), tt.response, okResponse("three"))
			var reasons []string
			cl := newClient(t, &Client{Trace: &Trace{Done: func(i DoneInfo) { reasons = append(reasons, i.CloseReason) }}})
			get(t, cl, url+"/1")
			var req Request
			req.SetURL(url + "/2")
			var resp Response
			err := cl.Do(&req, &resp)
			if tt.name == "head" {
				if err == nil || errors.Is(err, ErrNoResponse) {
					t.Fatalf("truncated head: err = %v", err)
				}
			} else if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v, want ErrTruncated", err)
			}
			// Not retried: the server saw the request once; the connection is gone.
			if n := len(reqs()); n != 2 {
				t.Errorf("server saw %d requests, want 2", n)
			}
			resp3 := get(t, cl, url+"/3")
			if resp3.Reused || resp3.ConnID != 2 || string(resp3.Body) != "three" {
				t.Errorf("after truncation: conn %d reused %v body %q", resp3.ConnID, resp3.Reused, resp3.Body)
			}
			if len(reasons) < 2 || !strings.HasPrefix(reasons[1], "error:") {
				t.Errorf("close reasons %q", reasons)
			}
		})
	}
}

func TestMalformedResponse(t *testing.T) {
	for _, resp := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nxx",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"garbage\r\n\r\n",
	} {
		url, _ := serveScript(t, resp)
		cl := newClient(t, nil)
		var req Request
		req.SetURL(url + "/")
		var r Response
		err := cl.Do(&req, &r)
		var we *wire.Error
		if !errors.As(err, &we) {
			t.Errorf("%q: err = %v, want a *wire.Error", resp, err)
		}
		if s := cl.Stats(); s.Open != 0 {
			t.Errorf("%q: connection kept after a malformed response: %+v", resp, s)
		}
	}
}

func TestStreamDrainOnClose(t *testing.T) {
	big := strings.Repeat("x", 2<<20)
	small := strings.Repeat("y", 100<<10)
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		switch string(r.Path()) {
		case "/big":
			w.Write([]byte(big))
		case "/small":
			w.Write([]byte(small))
		case "/chunked":
			for i := 0; i < 20; i++ {
				w.Write([]byte(small[:5000]))
				w.Flush()
			}
		default:
			w.Write([]byte("ok"))
		}
	})
	tests := []struct {
		path     string
		wantKeep bool
	}{
		{"/small", true},   // 100 KiB left: drained, connection kept
		{"/chunked", true}, // chunked, 100 KB: drained
		{"/big", false},    // 2 MiB left: more than MaxDrain, closed
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			cl := newClient(t, nil)
			var req Request
			req.SetURL(base + tt.path)
			var resp Response
			if err := cl.DoStream(&req, &resp); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 10)
			if _, err := io.ReadFull(resp.BodyReader(), buf); err != nil {
				t.Fatal(err)
			}
			resp.Close()
			r2 := get(t, cl, base+"/")
			if r2.Reused != tt.wantKeep {
				t.Errorf("reused=%v after closing %s early, want %v", r2.Reused, tt.path, tt.wantKeep)
			}
		})
	}
}

func TestStreamFullRead(t *testing.T) {
	body := strings.Repeat("0123456789", 100000)
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		if r.Path()[1] == 'c' {
			for i := 0; i < len(body); i += 7777 {
				w.Write([]byte(body[i:min(i+7777, len(body))]))
				w.Flush()
			}
			return
		}
		w.Write([]byte(body))
	})
	cl := newClient(t, nil)
	for _, path := range []string{"/length", "/chunked"} {
		var req Request
		req.SetURL(base + path)
		var resp Response
		if err := cl.DoStream(&req, &resp); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.BodyReader())
		if err != nil || string(got) != body {
			t.Fatalf("%s: %d bytes, err %v", path, len(got), err)
		}
		if s := cl.Stats(); s.Idle != 1 || s.Active != 0 {
			t.Errorf("%s: connection not returned at EOF: %+v", path, s)
		}
		resp.Close()
	}
}

func TestMaxResponseBody(t *testing.T) {
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		w.Write(bytes.Repeat([]byte("z"), 5000))
		if r.Path()[1] == 'c' {
			w.Flush()
			w.Write([]byte("more"))
		}
	})
	cl := newClient(t, &Client{MaxResponseBody: 4096})
	for _, path := range []string{"/length", "/chunked"} {
		var req Request
		req.SetURL(base + path)
		var resp Response
		if err := cl.Do(&req, &resp); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("%s: err = %v, want ErrBodyTooLarge", path, err)
		}
	}
}

func TestRequestBodies(t *testing.T) {
	base := startHop(t, echoConn)
	cl := newClient(t, nil)
	long := strings.Repeat("abcdefgh", 20000) // 160 KB: larger than the inline limit
	tests := []struct {
		name string
		set  func(*Request)
		want string
	}{
		{"bytes", func(r *Request) { r.SetBody([]byte("small body")) }, "small body"},
		{"string", func(r *Request) { r.SetBodyString("str") }, "str"},
		{"large bytes", func(r *Request) { r.SetBody([]byte(long)) }, long},
		{"stream with length", func(r *Request) { r.SetBodyStream(strings.NewReader(long), int64(len(long))) }, long},
		{"stream chunked", func(r *Request) { r.SetBodyStream(strings.NewReader(long), -1) }, long},
		{"empty", func(r *Request) { r.SetBody(nil) }, ""},
		{"none", func(r *Request) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req Request
			req.Method = "POST"
			req.SetURL(base + "/echo")
			tt.set(&req)
			var resp Response
			if err := cl.Do(&req, &resp); err != nil {
				t.Fatal(err)
			}
			if want := "POST /echo " + tt.want; string(resp.Body) != want {
				t.Errorf("echo: %d bytes, want %d", len(resp.Body), len(want))
			}
		})
	}
}

func TestRequestBodyShort(t *testing.T) {
	base := startHop(t, echoConn)
	cl := newClient(t, nil)
	var req Request
	req.Method = "PUT"
	req.SetURL(base + "/")
	req.SetBodyStream(strings.NewReader("short"), 100)
	var resp Response
	if err := cl.Do(&req, &resp); !errors.Is(err, ErrBodyLength) {
		t.Fatalf("err = %v, want ErrBodyLength", err)
	}
	if s := cl.Stats(); s.Open != 0 {
		t.Errorf("connection kept after a short body: %+v", s)
	}
}

func TestHTTP10ChunkedRejected(t *testing.T) {
	cl := newClient(t, nil)
	var req Request
	req.HTTP10 = true
	req.Method = "POST"
	req.SetURL("http://127.0.0.1:1/")
	req.SetBodyStream(strings.NewReader("x"), -1)
	var resp Response
	if err := cl.Do(&req, &resp); !errors.Is(err, ErrHTTP10Chunked) {
		t.Fatalf("err = %v", err)
	}
}

func TestExpectContinue(t *testing.T) {
	t.Run("server continues", func(t *testing.T) {
		base := startHop(t, echoConn)
		var got100 atomic.Bool
		cl := newClient(t, &Client{Trace: &Trace{Got100Continue: func() { got100.Store(true) }}})
		var req Request
		req.Method = "PUT"
		req.SetURL(base + "/up")
		req.Header.Set("Expect", "100-continue")
		req.SetBody([]byte("payload"))
		var resp Response
		if err := cl.Do(&req, &resp); err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != "PUT /up payload" || !got100.Load() {
			t.Errorf("body %q, got 100: %v", resp.Body, got100.Load())
		}
	})
	t.Run("server refuses", func(t *testing.T) {
		base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
			w.WriteHeader(413) // without reading the body
		})
		cl := newClient(t, nil)
		var req Request
		req.Method = "PUT"
		req.SetURL(base + "/up")
		req.Header.Set("Expect", "100-continue")
		body := &countingReader{r: strings.NewReader(strings.Repeat("b", 1<<20))}
		req.SetBodyStream(body, 1<<20)
		var resp Response
		if err := cl.Do(&req, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Status != 413 || body.n.Load() != 0 {
			t.Errorf("status %d, body bytes read %d (want 0: not sent)", resp.Status, body.n.Load())
		}
		if s := cl.Stats(); s.Open != 0 {
			t.Errorf("connection kept though the promised body was not sent: %+v", s)
		}
	})
	t.Run("timeout sends the body", func(t *testing.T) {
		// A server that ignores Expect and just waits for the body.
		url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
			rr := &reqReader{c: c}
			r, err := rr.next(nil)
			if err != nil {
				return
			}
			c.Write([]byte(okResponse("got " + string(r.Body))))
		})
		cl := newClient(t, &Client{ExpectContinueTimeout: 50 * time.Millisecond})
		var req Request
		req.Method = "POST"
		req.SetURL(url + "/")
		req.Header.Set("Expect", "100-continue")
		req.SetBody([]byte("late"))
		var resp Response
		if err := cl.Do(&req, &resp); err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != "got late" {
			t.Errorf("body %q", resp.Body)
		}
	})
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestPoolLimitAndQueue(t *testing.T) {
	release := make(chan struct{})
	var inflight, peak atomic.Int32
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inflight.Add(-1)
		w.Write([]byte("ok"))
	})
	cl := newClient(t, &Client{MaxConnsPerHost: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var req Request
			req.SetURL(base + "/")
			var resp Response
			errs <- cl.Do(&req, &resp)
		}()
	}
	testnet.WaitFor(t, "4 waiters", func() bool { return cl.Stats().Waiting == 4 })
	if s := cl.Stats(); s.Active != 2 || s.Open != 2 {
		t.Errorf("stats while saturated: %+v", s)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("server saw %d concurrent requests, want 2 (the per-host limit)", p)
	}
	if s := cl.Stats(); s.NewConns != 2 || s.Reused != 4 || s.Waiting != 0 {
		t.Errorf("final stats %+v", s)
	}
}

func TestPoolWaitTimeoutAndFull(t *testing.T) {
	release := make(chan struct{})
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		<-release
		w.Write([]byte("ok"))
	})
	defer close(release)
	cl := newClient(t, &Client{MaxConnsPerHost: 1, MaxWaitersPerHost: 1, PoolWaitTimeout: 1500 * time.Millisecond})
	go func() {
		var req Request
		req.SetURL(base + "/")
		var resp Response
		cl.Do(&req, &resp)
	}()
	testnet.WaitFor(t, "the first request", func() bool { return cl.Stats().Active == 1 })
	errc := make(chan error, 1)
	go func() {
		var req Request
		req.SetURL(base + "/")
		var resp Response
		errc <- cl.Do(&req, &resp)
	}()
	testnet.WaitFor(t, "a waiter", func() bool { return cl.Stats().Waiting == 1 })
	var req Request
	req.SetURL(base + "/")
	var resp Response
	if err := cl.Do(&req, &resp); !errors.Is(err, ErrPoolFull) {
		t.Errorf("third request: %v, want ErrPoolFull", err)
	}
	if err := <-errc; !errors.Is(err, ErrPoolTimeout) {
		t.Errorf("waiter: %v, want ErrPoolTimeout", err)
	}
	if s := cl.Stats(); s.WaitTimeouts != 1 || s.Waiting != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestLIFOReuse(t *testing.T) {
	gate := make(chan struct{})
	var n atomic.Int32
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		if string(r.Path()) == "/slow" {
			<-gate
		}
		n.Add(1)
		w.Write([]byte("ok"))
	})
	cl := newClient(t, nil)
	// Open two connections: #1 finishes first, #2 last.
	done := make(chan *Response)
	go func() {
		var req Request
		req.SetURL(base + "/slow")
		resp := &Response{}
		if err := cl.Do(&req, resp); err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	testnet.WaitFor(t, "the slow request", func() bool { return cl.Stats().Active == 1 })
	fast := get(t, cl, base+"/fast")
	close(gate)
	slow := <-done
	if fast.ConnID == slow.ConnID {
		t.Fatal("the two requests shared a connection")
	}
	// The most recently released connection (the slow one's) is reused first.
	if r := get(t, cl, base+"/"); r.ConnID != slow.ConnID {
		t.Errorf("reused conn %d, want the most recently used %d", r.ConnID, slow.ConnID)
	}
}

func TestIdleTimeout(t *testing.T) {
	base := startHop(t, echoConn)
	cl := newClient(t, &Client{IdleTimeout: 50 * time.Millisecond})
	get(t, cl, base+"/")
	testnet.WaitFor(t, "the sweeper to close the idle connection", func() bool { return cl.Stats().Open == 0 })
	if r := get(t, cl, base+"/"); r.Reused {
		t.Error("an idle-timed-out connection was reused")
	}
}

func TestServerKeepAliveHints(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		// The server says timeout=1 but keeps the connection open longer: the client
		// must stop using it after 750 ms (1 s minus a quarter).
		url, _ := serveScript(t, okResponse("a", "Keep-Alive: timeout=1"), okResponse("b"))
		cl := newClient(t, nil)
		get(t, cl, url+"/")
		p := cl.allPools()[0]
		p.mu.Lock()
		ttl := p.idle[0].idleTTL
		p.mu.Unlock()
		if ttl != 750*time.Millisecond {
			t.Errorf("idle time limit %v, want 750ms", ttl)
		}
		time.Sleep(900 * time.Millisecond)
		if r := get(t, cl, url+"/"); r.Reused {
			t.Error("connection reused past the server's Keep-Alive timeout")
		}
	})
	t.Run("max", func(t *testing.T) {
		url, _ := serveScript(t, okResponse("a", "Keep-Alive: timeout=5, max=1"), okResponse("b"), okResponse("c"))
		cl := newClient(t, nil)
		get(t, cl, url+"/")
		if r := get(t, cl, url+"/"); !r.Reused {
			t.Error("second request: not reused though max=1 allowed one more")
		}
		if r := get(t, cl, url+"/"); r.Reused {
			t.Error("third request reused the connection beyond the server's max")
		}
	})
}

func TestMaxRequestsAndAge(t *testing.T) {
	base := startHop(t, echoConn)
	cl := newClient(t, &Client{MaxRequestsPerConn: 2})
	ids := []uint64{}
	for i := 0; i < 5; i++ {
		ids = append(ids, get(t, cl, base+"/").ConnID)
	}
	if fmt.Sprint(ids) != "[1 1 2 2 3]" {
		t.Errorf("connections %v, want [1 1 2 2 3]", ids)
	}
	cl2 := newClient(t, &Client{MaxConnAge: 30 * time.Millisecond})
	a := get(t, cl2, base+"/").ConnID
	time.Sleep(60 * time.Millisecond)
	if b := get(t, cl2, base+"/").ConnID; b == a {
		t.Error("connection reused past MaxConnAge")
	}
}

// The server closes each connection (FIN) 20 ms after answering its first request;
// the client must notice before reuse instead of failing or retrying.
func TestLivenessCheckFIN(t *testing.T) {
	closed := make(chan struct{}, 10)
	url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		if _, err := rr.next(nil); err != nil {
			return
		}
		c.Write([]byte(okResponse("x")))
		time.Sleep(20 * time.Millisecond)
		c.Close()
		closed <- struct{}{}
	})
	var retries atomic.Int32
	cl := newClient(t, &Client{LivenessCheckMinIdle: -1, Trace: &Trace{Retry: func(int, error) { retries.Add(1) }}})
	for i := 0; i < 3; i++ {
		r := get(t, cl, url+"/")
		if r.Reused {
			t.Errorf("request %d reused a connection the server had closed", i)
		}
		<-closed
		waitIdleClosed(t, cl)
	}
	if n := retries.Load(); n != 0 {
		t.Errorf("%d retries: the dead connection was not noticed before reuse", n)
	}
	if s := cl.Stats(); s.Reused != 0 || s.NewConns != 3 {
		t.Errorf("stats %+v", s)
	}
}

// The server resets idle connections (SO_LINGER 0): the client notices the RST.
func TestLivenessCheckRST(t *testing.T) {
	var conns sync.Map
	url := "http://" + testnet.Raw(t, func(c net.Conn, n int) {
		rr := &reqReader{c: c}
		if _, err := rr.next(nil); err != nil {
			return
		}
		c.Write([]byte(okResponse("x")))
		time.Sleep(20 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0)
		conns.Store(n, true)
	})
	var retries atomic.Int32
	// The default threshold: the connection has been idle for longer when it is reused.
	cl := newClient(t, &Client{Trace: &Trace{Retry: func(int, error) { retries.Add(1) }}})
	get(t, cl, url+"/")
	testnet.WaitFor(t, "the reset", func() bool { _, ok := conns.Load(0); return ok })
	waitIdleClosed(t, cl)
	time.Sleep(DefaultLivenessCheckMinIdle)
	if r := get(t, cl, url+"/"); r.Reused {
		t.Error("reused a reset connection")
	}
	if retries.Load() != 0 {
		t.Error("the reset was found by a retry, not by the liveness check")
	}
}

// serveDropSecond answers the first request of each connection and, for the second,
// reads it and closes without answering: the race of a server closing an idle
// connection just as a request arrives. It counts requests by method.
func serveDropSecond(t *testing.T) (string, *sync.Map) {
	var counts sync.Map
	url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		for i := 0; ; i++ {
			r, err := rr.next(nil)
			if err != nil {
				return
			}
			v, _ := counts.LoadOrStore(r.Method, new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
			if i == 1 {
				return
			}
			resp := okResponse("ok " + r.Method)
			if r.Method == "HEAD" {
				resp = strings.TrimSuffix(resp, "ok HEAD") // a HEAD response has no body
			}
			c.Write([]byte(resp))
		}
	})
	return url, &counts
}

func count(m *sync.Map, method string) int32 {
	v, ok := m.Load(method)
	if !ok {
		return 0
	}
	return v.(*atomic.Int32).Load()
}

func TestRetryRules(t *testing.T) {
	tests := []struct {
		method    string
		key       bool
		wantRetry bool
	}{
		{method: "GET", wantRetry: true},
		{method: "HEAD", wantRetry: true},
		{method: "PUT", wantRetry: true},
		{method: "DELETE", wantRetry: true},
		{method: "OPTIONS", wantRetry: true},
		{method: "POST", wantRetry: false},
		{method: "PATCH", wantRetry: false},
		{method: "POST", key: true, wantRetry: true},
	}
	for _, tt := range tests {
		name := tt.method
		if tt.key {
			name += " with Idempotency-Key"
		}
		t.Run(name, func(t *testing.T) {
			url, counts := serveDropSecond(t)
			var retries []error
			cl := newClient(t, &Client{Trace: &Trace{Retry: func(_ int, err error) { retries = append(retries, err) }}})
			var req Request
			req.Method = tt.method
			req.SetURL(url + "/")
			if tt.method != "GET" && tt.method != "HEAD" && tt.method != "DELETE" && tt.method != "OPTIONS" {
				req.SetBody([]byte("data"))
			}
			if tt.key {
				req.Header.Set("Idempotency-Key", "k-1")
			}
			var resp Response
			if err := cl.Do(&req, &resp); err != nil {
				t.Fatal(err)
			}
			err := cl.Do(&req, &resp) // reuses the connection; the server drops it
			if tt.wantRetry {
				if err != nil || resp.Status != 200 || resp.Retries != 1 || len(retries) != 1 {
					t.Fatalf("err %v status %d retries %d/%d, want a silent success after one retry",
						err, resp.Status, resp.Retries, len(retries))
				}
				if got := count(counts, tt.method); got != 3 {
					t.Errorf("server saw %d %s requests, want 3", got, tt.method)
				}
				return
			}
			if !errors.Is(err, ErrNoResponse) {
				t.Fatalf("err = %v, want ErrNoResponse", err)
			}
			var e *Error
			if !errors.As(err, &e) || !e.Reused || !strings.Contains(e.Note, "not idempotent") {
				t.Errorf("error %v does not explain the decision", err)
			}
			if got := count(counts, tt.method); got != 2 || len(retries) != 0 {
				t.Errorf("server saw %d %s requests (want 2: never re-sent), %d retries", got, tt.method, len(retries))
			}
		})
	}
}

func TestNoRetryOnFreshConnection(t *testing.T) {
	var n atomic.Int32
	url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		if _, err := rr.next(nil); err == nil {
			n.Add(1)
		}
	})
	cl := newClient(t, nil)
	var req Request
	req.SetURL(url + "/")
	var resp Response
	err := cl.Do(&req, &resp)
	if !errors.Is(err, ErrNoResponse) {
		t.Fatalf("err = %v", err)
	}
	if n.Load() != 1 {
		t.Errorf("sent %d times on fresh connections, want 1", n.Load())
	}
}

func TestRetryStreamedBody(t *testing.T) {
	url, counts := serveDropSecond(t)
	cl := newClient(t, nil)
	var req Request
	req.Method = "PUT"
	req.SetURL(url + "/")
	req.SetBody([]byte("first"))
	var resp Response
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	// A streamed body without GetBody cannot be re-sent once read.
	req.SetBodyStream(strings.NewReader("streamed"), 8)
	err := cl.Do(&req, &resp)
	if !errors.Is(err, ErrNoResponse) || !strings.Contains(err.Error(), "GetBody") {
		t.Fatalf("err = %v", err)
	}
	// With GetBody it can.
	get(t, cl, url+"/")
	req.SetBodyStream(strings.NewReader("streamed"), 8)
	req.GetBody = func() (io.Reader, error) { return strings.NewReader("streamed"), nil }
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	if count(counts, "PUT") != 4 {
		t.Errorf("PUT count %d", count(counts, "PUT"))
	}
}

func TestRedirects(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var base string
	base = startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		body, _ := r.ReadBody(1 << 20)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %q auth=%q", r.Method, r.Target, body, r.Header.Get("Authorization")))
		mu.Unlock()
		p := string(r.Path())
		switch {
		case strings.HasPrefix(p, "/r/"):
			code, _ := strconv.Atoi(p[3:6])
			w.Header().Set("Location", "../final")
			w.WriteHeader(code)
		case p == "/loop":
			w.Header().Set("Location", "/loop")
			w.WriteHeader(302)
		case p == "/abs":
			w.Header().Set("Location", base+"/final?abs")
			w.WriteHeader(301)
		default:
			w.Write([]byte("final " + string(r.Method)))
		}
	})
	tests := []struct {
		method, path string
		wantMethod   string
		wantBody     string // request body at the final URL
	}{
		{"GET", "/r/301/x", "GET", ""},
		{"POST", "/r/301/x", "GET", ""},
		{"POST", "/r/302/x", "GET", ""},
		{"PUT", "/r/302/x", "PUT", "data"},
		{"POST", "/r/303/x", "GET", ""},
		{"PUT", "/r/303/x", "GET", ""},
		{"HEAD", "/r/303/x", "HEAD", ""},
		{"POST", "/r/307/x", "POST", "data"},
		{"POST", "/r/308/x", "POST", "data"},
		{"GET", "/abs", "GET", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			var redirects []int
			cl := newClient(t, &Client{MaxRedirects: 5, Trace: &Trace{Redirect: func(s int, _ string) {
				redirects = append(redirects, s)
			}}})
			var req Request
			req.Method = tt.method
			req.SetURL(base + tt.path)
			if tt.method != "GET" && tt.method != "HEAD" {
				req.SetBody([]byte("data"))
				req.Header.Set("Content-Type", "text/plain")
			}
			var resp Response
			if err := cl.Do(&req, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 || resp.Redirects != 1 || len(redirects) != 1 {
				t.Fatalf("status %d after %d redirects", resp.Status, resp.Redirects)
			}
			mu.Lock()
			last := seen[len(seen)-1]
			mu.Unlock()
			if !strings.HasPrefix(last, tt.wantMethod+" /") || !strings.Contains(last, fmt.Sprintf("%q", tt.wantBody)) {
				t.Errorf("final request %s, want method %s body %q", last, tt.wantMethod, tt.wantBody)
			}
			if req.Method != tt.method || req.URL.Path != tt.path {
				t.Errorf("the caller's request was modified: %s %s", req.Method, req.URL.Path)
			}
			if !strings.Contains(resp.URL.Path, "final") {
				t.Errorf("resp.URL = %s", resp.URL.String())
			}
		})
	}
	t.Run("limit", func(t *testing.T) {
		cl := newClient(t, &Client{MaxRedirects: 3})
		var req Request
		req.SetURL(base + "/loop")
		var resp Response
		if err := cl.Do(&req, &resp); !errors.Is(err, ErrTooManyRedirects) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not followed by default", func(t *testing.T) {
		cl := newClient(t, nil)
		r := get(t, cl, base+"/loop")
		if r.Status != 302 || string(r.Header.Get("Location")) != "/loop" {
			t.Errorf("got %d", r.Status)
		}
	})
}

// A 307 re-sends a streamed body from GetBody in the redirected request; the caller's
// Request keeps its own reader.
func TestRedirectStreamedBodyLeavesCallerRequest(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		body, _ := r.ReadBody(1 << 20)
		mu.Lock()
		bodies = append(bodies, string(r.Path())+" "+string(body))
		mu.Unlock()
		if string(r.Path()) == "/from" {
			w.Header().Set("Location", "/to")
			w.WriteHeader(307)
		}
	})
	cl := newClient(t, &Client{MaxRedirects: 1})
	var req Request
	req.Method = "POST"
	req.SetURL(base + "/from")
	stream := strings.NewReader("data")
	req.SetBodyStream(stream, 4)
	req.GetBody = func() (io.Reader, error) { return strings.NewReader("data"), nil }
	var resp Response
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(bodies, ", ")
	mu.Unlock()
	if resp.Status != 200 || got != "/from data, /to data" {
		t.Fatalf("status %d, server saw %q", resp.Status, got)
	}
	if req.BodyStream() != stream {
		t.Error("the caller's request body was replaced")
	}
}

func TestRedirectCrossOriginDropsCredentials(t *testing.T) {
	var auth atomic.Value
	target := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		auth.Store(string(r.Header.Get("Authorization")) + "|" + string(r.Header.Get("X-Other")))
		w.Write([]byte("there"))
	})
	origin := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Location", target+"/x")
		w.WriteHeader(302)
	})
	cl := newClient(t, &Client{MaxRedirects: 2})
	var req Request
	req.SetURL(origin + "/")
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("X-Other", "kept")
	var resp Response
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	if got := auth.Load(); got != "|kept" {
		t.Errorf("the other origin got %q, want no Authorization", got)
	}
}

func TestTraceEvents(t *testing.T) {
	base := startHop(t, echoConn)
	var mu sync.Mutex
	var events []string
	add := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	tr := &Trace{
		GetConn:      func(o string) { add("getconn") },
		DNSStart:     func(string) { add("dns") },
		DNSDone:      func(i DNSInfo) { add("dnsdone " + i.Source) },
		ConnectStart: func(a netip.AddrPort) { add("connect") },
		ConnectDone:  func(a netip.AddrPort, err error) { add("connected") },
		GotConn: func(i ConnInfo) {
			add(fmt.Sprintf("gotconn #%d reused=%v local=%v remote=%v", i.ID, i.Reused, i.LocalAddr != nil, i.RemoteAddr))
		},
		WroteHead:    func(h []byte) { add("head " + strings.SplitN(string(h), "\r\n", 2)[0]) },
		WroteRequest: func(err error) { add("wrote") },
		FirstByte:    func() { add("firstbyte") },
		GotHead:      func(h []byte) { add("gothead " + strings.SplitN(string(h), "\r\n", 2)[0]) },
		Done:         func(i DoneInfo) { add(fmt.Sprintf("done %d %d kept=%v", i.Status, i.BodyBytes, i.KeptAlive)) },
	}
	cl := newClient(t, &Client{Trace: tr})
	get(t, cl, base+"/a")
	get(t, cl, base+"/b")
	remote := strings.TrimPrefix(base, "http://")
	want := []string{
		"getconn", "dns", "dnsdone literal", "connect", "connected",
		"gotconn #1 reused=false local=true remote=" + remote,
		"head GET /a HTTP/1.1", "wrote", "firstbyte", "gothead HTTP/1.1 200 OK", "done 200 7 kept=true",
		"getconn", "gotconn #1 reused=true local=true remote=" + remote,
		"head GET /b HTTP/1.1", "wrote", "firstbyte", "gothead HTTP/1.1 200 OK", "done 200 7 kept=true",
	}
	mu.Lock()
	joined := strings.Join(events, "\n")
	mu.Unlock()
	if joined != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", joined, strings.Join(want, "\n"))
	}
}

func TestTimings(t *testing.T) {
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Write([]byte("ok"))
	})
	cl := newClient(t, nil)
	var tm Timings
	var req Request
	req.SetURL(base + "/")
	req.Trace = tm.Trace(nil)
	var resp Response
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	if tm.Connect() <= 0 || tm.Wait() < 15*time.Millisecond || tm.Total() < tm.Wait() || tm.TLS() != 0 {
		t.Errorf("timings: connect %v wait %v total %v tls %v", tm.Connect(), tm.Wait(), tm.Total(), tm.TLS())
	}
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	req.Trace = tm.Trace(nil)
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	if tm.Connect() != 0 || tm.DNS() != 0 || tm.Wait() <= 0 {
		t.Errorf("reused connection: connect %v dns %v wait %v", tm.Connect(), tm.DNS(), tm.Wait())
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	block := make(chan struct{})
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
		w.Write([]byte("late"))
	})
	defer close(block)
	cl := newClient(t, nil)
	var req Request
	req.SetURL(base + "/")
	req.Timeout = 100 * time.Millisecond
	var resp Response
	start := time.Now()
	err := cl.Do(&req, &resp)
	if err == nil || !neterr.IsTimeout(err) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("timeout took far too long")
	}
	ctx, cancel := context.WithCancel(context.Background())
	req.Timeout = 0
	req.Ctx = ctx
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := cl.Do(&req, &resp); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if s := cl.Stats(); s.Active != 0 || s.Open != 0 {
		t.Errorf("after timeout and cancel: %+v", s)
	}
}

func TestClientClosed(t *testing.T) {
	base := startHop(t, echoConn)
	cl := &Client{}
	get(t, cl, base+"/")
	cl.Close()
	if s := cl.Stats(); s.Open != 0 {
		t.Errorf("open after Close: %+v", s)
	}
	var req Request
	req.SetURL(base + "/")
	var resp Response
	if err := cl.Do(&req, &resp); !errors.Is(err, ErrClientClosed) {
		t.Errorf("err = %v", err)
	}
}

func TestInvalidRequests(t *testing.T) {
	cl := newClient(t, nil)
	tests := []struct {
		name string
		set  func(*Request)
	}{
		{"no URL", func(r *Request) {}},
		{"bad method", func(r *Request) { r.SetURL("http://127.0.0.1:1/"); r.Method = "GE T" }},
		{"bad field value", func(r *Request) { r.SetURL("http://127.0.0.1:1/"); r.Header.Add("X", "a\r\nInjected: 1") }},
		{"bad field name", func(r *Request) { r.SetURL("http://127.0.0.1:1/"); r.Header.Add("X Y", "a") }},
	}
	for _, tt := range tests {
		var req Request
		tt.set(&req)
		var resp Response
		if err := cl.Do(&req, &resp); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestConnectRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cl := newClient(t, nil)
	var req Request
	req.SetURL("http://" + addr + "/")
	var resp Response
	err := cl.Do(&req, &resp)
	var e *Error
	if !errors.As(err, &e) || e.Op != "connect" {
		t.Fatalf("err = %v", err)
	}
	if s := cl.Stats(); s.DialErrors != 1 || s.Open != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestConcurrentRequests(t *testing.T) {
	base := startHop(t, echoConn)
	cl := newClient(t, &Client{MaxConnsPerHost: 4})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var req Request
			var resp Response
			for i := 0; i < 50; i++ {
				req.SetURL(base + "/" + strconv.Itoa(g) + "/" + strconv.Itoa(i))
				if err := cl.Do(&req, &resp); err != nil {
					t.Error(err)
					return
				}
				want := "GET /" + strconv.Itoa(g) + "/" + strconv.Itoa(i) + " "
				if string(resp.Body) != want {
					t.Errorf("got %q want %q", resp.Body, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if s := cl.Stats(); s.NewConns > 4 || s.Active != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Bytes after a complete response (a server that sends more than it declared) make
// the connection unusable: it is closed, not reused.
func TestExtraBytesAfterResponse(t *testing.T) {
	url, _ := serveScript(t, okResponse("ok")+"garbage", okResponse("two"))
	var reasons []string
	cl := newClient(t, &Client{Trace: &Trace{Done: func(i DoneInfo) { reasons = append(reasons, i.CloseReason) }}})
	get(t, cl, url+"/")
	if r := get(t, cl, url+"/"); r.Reused || string(r.Body) != "two" {
		t.Errorf("reused=%v body %q", r.Reused, r.Body)
	}
	if reasons[0] != "unexpected data after the response" && reasons[0] != "" {
		t.Errorf("reason %q", reasons[0])
	}
}

// SetBodyString after SetBody must not write into the caller's slice.
func TestRequestBodyOwnership(t *testing.T) {
	mine := []byte("caller's bytes")
	var req Request
	req.SetBody(mine)
	req.Reset()
	req.SetBodyString("other")
	if string(mine) != "caller's bytes" {
		t.Fatalf("the caller's slice was overwritten: %q", mine)
	}
	if req.ContentLength() != 5 {
		t.Errorf("length %d", req.ContentLength())
	}
}

// With LivenessCheckMinIdle longer than the idle time, the check is skipped: the
// closed connection is reused, fails before any response byte, and the GET is retried.
func TestLivenessCheckMinIdle(t *testing.T) {
	closed := make(chan struct{}, 10)
	url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		if _, err := rr.next(nil); err != nil {
			return
		}
		c.Write([]byte(okResponse("x")))
		c.Close()
		closed <- struct{}{}
	})
	var retries atomic.Int32
	cl := newClient(t, &Client{LivenessCheckMinIdle: time.Hour, Trace: &Trace{Retry: func(int, error) { retries.Add(1) }}})
	get(t, cl, url+"/")
	<-closed
	waitIdleClosed(t, cl)
	r := get(t, cl, url+"/")
	if r.Retries != 1 || retries.Load() != 1 {
		t.Errorf("retries %d/%d: the check should have been skipped", r.Retries, retries.Load())
	}
}

// A pool is forgotten once it has held no connection for IdleTimeout, however its
// connections ended: closed after every exchange (Connection: close, where none is
// ever kept idle), or expired early by the server's Keep-Alive timeout (the pool is
// empty before IdleTimeout). A long-lived client (a forward proxy) that talks to many
// origins would otherwise keep a pool for each of them for ever.
func TestPoolsForgotten(t *testing.T) {
	for _, tc := range []struct{ name, resp string }{
		{"connection close", okResponse("x", "Connection: close")},
		{"server keep-alive timeout", okResponse("x", "Keep-Alive: timeout=1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := serveRecorded(t, tc.resp)
			port := base[strings.LastIndexByte(base, ':')+1:]
			resolve := map[string][]netip.Addr{}
			for i := 0; i < 20; i++ {
				resolve["o"+strconv.Itoa(i)+".test:"+port] = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
			}
			cl := newClient(t, &Client{Resolve: resolve, IdleTimeout: 1500 * time.Millisecond})
			for i := 0; i < 20; i++ {
				get(t, cl, "http://o"+strconv.Itoa(i)+".test:"+port+"/")
			}
			if n := len(cl.OriginStats()); n != 20 {
				t.Fatalf("%d pools after 20 origins", n)
			}
			testnet.WaitFor(t, "the pools to be forgotten", func() bool { return len(cl.OriginStats()) == 0 })
			testnet.WaitFor(t, "the sweeper to stop", func() bool { return !cl.janitor.running.Load() })
		})
	}
}
