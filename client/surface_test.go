package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// upgradeServer answers one request with 101 (the early bytes sent in the same write
// as the head), then echoes what it reads. It records the request.
func upgradeServer(t *testing.T, early string) (string, func() *testRequest) {
	var mu sync.Mutex
	var got *testRequest
	addr := testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		r, err := rr.next(nil)
		if err != nil {
			return
		}
		mu.Lock()
		got = r
		mu.Unlock()
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n" + early))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.Copy(c, io.MultiReader(bytes.NewReader(rr.buf), c))
	})
	return "http://" + addr, func() *testRequest {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// 101 Switching Protocols hands the connection to the caller: the bytes that came
// with the head are read first, then the connection, both ways; the pool lets go of it.
func TestUpgrade101(t *testing.T) {
	for _, mode := range []string{"Do", "DoStream"} {
		t.Run(mode, func(t *testing.T) {
			base, got := upgradeServer(t, "early|")
			var done DoneInfo
			cl := newClient(t, &Client{Trace: &Trace{Done: func(i DoneInfo) { done = i }}})
			var req Request
			req.SetURL(base + "/chat")
			req.Header.Set("Upgrade", "echo")
			var resp Response
			var err error
			if mode == "Do" {
				err = cl.Do(&req, &resp)
			} else {
				err = cl.DoStream(&req, &resp)
			}
			if err != nil {
				t.Fatal(err)
			}
			sc := resp.SwitchedConn()
			if resp.Status != 101 || sc == nil || resp.BodyReader() != io.Reader(sc) || resp.KeepAlive {
				t.Fatalf("status %d, switched %v", resp.Status, sc)
			}
			defer sc.Close()
			r := got()
			if r == nil || !r.Header.HasToken("Connection", "upgrade") || string(r.Header.Get("Upgrade")) != "echo" {
				t.Fatalf("the server saw %+v: want Connection: upgrade and Upgrade: echo", r)
			}
			sc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := sc.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len("early|ping"))
			if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "early|ping" {
				t.Fatalf("read %q, %v", buf, err)
			}
			if err := sc.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if rest, err := io.ReadAll(sc); err != nil || len(rest) != 0 {
				t.Errorf("after the half-close: %q, %v (the echo server ends when it reads EOF)", rest, err)
			}
			s := cl.Stats()
			if s.Open != 0 || s.Active != 0 || s.Switched != 1 || s.Closed != 0 {
				t.Errorf("stats %+v: the pool must let go of the switched connection", s)
			}
			if done.Status != 101 || done.KeptAlive || !strings.Contains(done.CloseReason, "switched") {
				t.Errorf("Done %+v", done)
			}
		})
	}
}

// TakeOver returns the socket and the early bytes, for a proxy that splices.
func TestSwitchedConnTakeOver(t *testing.T) {
	base, _ := upgradeServer(t, strings.Repeat("e", 100))
	cl := newClient(t, nil)
	var req Request
	req.SetURL(base + "/")
	req.Header.Set("Upgrade", "echo")
	var resp Response
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	sc := resp.SwitchedConn()
	defer sc.Close()
	sc.SetDeadline(time.Now().Add(10 * time.Second))
	first := make([]byte, 10)
	if _, err := io.ReadFull(sc, first); err != nil {
		t.Fatal(err)
	}
	buffered := sc.Buffered()
	nc, early := sc.TakeOver()
	if _, ok := nc.(*net.TCPConn); !ok {
		t.Fatalf("TakeOver gave %T, want the *net.TCPConn (to splice)", nc)
	}
	if len(early) != buffered || sc.Buffered() != 0 {
		t.Fatalf("TakeOver gave %d early bytes, Buffered said %d", len(early), buffered)
	}
	rest := make([]byte, 90-len(early))
	if _, err := io.ReadFull(nc, rest); err != nil {
		t.Fatal(err)
	}
	if got := string(first) + string(early) + string(rest); got != strings.Repeat("e", 100) {
		t.Errorf("early bytes %q", got)
	}
}

// A 101 to a request that did not ask to switch is an error, and so is an Upgrade in a
// pipeline (refused before anything is sent).
func TestUnrequestedUpgrade(t *testing.T) {
	base, _ := upgradeServer(t, "")
	cl := newClient(t, nil)
	var req Request
	req.SetURL(base + "/")
	var resp Response
	if err := cl.Do(&req, &resp); !errors.Is(err, ErrUnrequestedUpgrade) {
		t.Errorf("err = %v, want ErrUnrequestedUpgrade", err)
	}
	if s := cl.Stats(); s.Open != 0 {
		t.Errorf("stats %+v: the connection must be closed", s)
	}
	req.Header.Set("Upgrade", "echo")
	if err := cl.DoPipeline([]*Request{&req}, []*Response{&resp}, 2); err == nil || !strings.Contains(err.Error(), "pipelined") {
		t.Errorf("pipelined Upgrade: %v", err)
	}
}

// The RoundTripper gives the switched connection as the Body, an io.ReadWriteCloser.
func TestTransportUpgrade(t *testing.T) {
	base, got := upgradeServer(t, "")
	hc := &http.Client{Transport: &Transport{Client: newClient(t, nil)}}
	hr, _ := http.NewRequest("GET", base+"/ws", nil)
	hr.Header.Set("Connection", "Upgrade")
	hr.Header.Set("Upgrade", "echo")
	resp, err := hc.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != 101 || !ok {
		t.Fatalf("%d, body %T", resp.StatusCode, resp.Body)
	}
	rw.Write([]byte("hi"))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(rw, buf); err != nil || string(buf) != "hi" {
		t.Errorf("echo %q, %v", buf, err)
	}
	if r := got(); !r.Header.HasToken("Connection", "upgrade") {
		t.Errorf("Connection %q", r.Header.Get("Connection"))
	}
}

// A CONNECT request goes to the URL's origin (never through Client.Proxy) with Target
// as its authority-form target; a 2xx answer hands over the tunnel.
func TestConnectRequest(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	addr := testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		r, err := rr.next(nil)
		if err != nil {
			return
		}
		mu.Lock()
		lines = append(lines, r.Method+" "+r.Target+" Host="+string(r.Header.Get("Host")))
		mu.Unlock()
		c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		io.Copy(c, c)
	})
	unusedProxy, _ := FixedProxy("127.0.0.1:1")
	cl := newClient(t, &Client{Proxy: unusedProxy})
	for _, target := range []string{"example.test:443", ""} {
		var req Request
		req.Method = "CONNECT"
		req.SetURL("http://" + addr)
		if target != "" {
			req.Target = []byte(target)
		}
		var resp Response
		if err := cl.Do(&req, &resp); err != nil {
			t.Fatal(err)
		}
		sc := resp.SwitchedConn()
		if resp.Status != 200 || sc == nil {
			t.Fatalf("%d %v", resp.Status, sc)
		}
		sc.Write([]byte("tunnel"))
		buf := make([]byte, 6)
		sc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "tunnel" {
			t.Errorf("tunnel echo %q, %v", buf, err)
		}
		sc.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"CONNECT example.test:443 Host=" + addr, "CONNECT " + addr + " Host=" + addr}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("server saw %q, want %q", lines, want)
	}
}

// Informational responses reach Trace.Got1xx with their fields (103 Early Hints, 100),
// then the final response is read; an error from the hook fails the request; more than
// max1xx of them is an error.
func TestGot1xx(t *testing.T) {
	heads := "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nLink: </b.js>; rel=preload\r\n\r\n" +
		"HTTP/1.1 100 Continue\r\n\r\n"
	base, _ := serveScript(t, heads+okResponse("final"), heads+okResponse("final"), strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", max1xx+1)+okResponse("x"))
	var seen []string
	stop := errors.New("stop here")
	fail := false
	cl := newClient(t, &Client{Trace: &Trace{Got1xx: func(status int, h *wire.Header) error {
		var links []string
		h.Values("Link", func(v []byte) { links = append(links, string(v)) })
		seen = append(seen, itoa(status)+" "+strings.Join(links, ","))
		if fail {
			return stop
		}
		return nil
	}}})
	r := get(t, cl, base+"/")
	if r.Status != 200 || string(r.Body) != "final" {
		t.Fatalf("%d %q", r.Status, r.Body)
	}
	if want := "103 </a.css>; rel=preload,</b.js>; rel=preload|100 "; strings.Join(seen, "|") != want {
		t.Errorf("Got1xx saw %q, want %q", seen, want)
	}
	fail = true
	var req Request
	req.SetURL(base + "/")
	var resp Response
	if err := cl.Do(&req, &resp); !errors.Is(err, stop) {
		t.Errorf("hook error: %v", err)
	}
	fail = false
	if err := cl.Do(&req, &resp); !errors.Is(err, errTooMany1xx) {
		t.Errorf("%d 1xx: %v", max1xx+1, err)
	}
}

// The RoundTripper passes 1xx to httptrace's Got1xxResponse.
func TestTransportGot1xx(t *testing.T) {
	base, _ := serveScript(t, "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"+okResponse("ok"))
	var got []string
	ct := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, itoa(code)+" "+h.Get("Link"))
		return nil
	}}
	hr, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), ct), "GET", base+"/", nil)
	resp, err := (&Transport{Client: newClient(t, nil)}).RoundTrip(hr)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(got) != 1 || got[0] != "103 </x>" {
		t.Errorf("Got1xxResponse saw %q", got)
	}
}

// With ExpectContinueTimeout negative the body waits for 100 Continue however long it
// takes (here longer than DefaultExpectContinueTimeout); Got1xx sees the 100 first.
func TestExpectContinueNoLimit(t *testing.T) {
	early := make(chan int, 1)
	url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		r, err := rr.next(func(*testRequest) {
			// Nothing of the body may arrive before the 100.
			c.SetReadDeadline(time.Now().Add(DefaultExpectContinueTimeout + 300*time.Millisecond))
			buf := make([]byte, 16)
			n, _ := c.Read(buf)
			rr.buf = append(rr.buf, buf[:n]...) // body bytes, if any, stay for next()
			early <- len(rr.buf)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
		})
		if err != nil {
			return
		}
		c.Write([]byte(okResponse("got " + string(r.Body))))
	})
	var events []string
	cl := newClient(t, &Client{ExpectContinueTimeout: -1, Trace: &Trace{
		Got1xx:         func(st int, _ *wire.Header) error { events = append(events, "1xx "+itoa(st)); return nil },
		Got100Continue: func() { events = append(events, "100") },
	}})
	var req Request
	req.Method = "PUT"
	req.SetURL(url + "/")
	req.Header.Set("Expect", "100-continue")
	req.SetBody([]byte("body"))
	var resp Response
	if err := cl.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	if n := <-early; n != 0 {
		t.Errorf("%d body bytes arrived before 100 Continue", n)
	}
	if string(resp.Body) != "got body" || strings.Join(events, ",") != "1xx 100,100" {
		t.Errorf("body %q, events %q", resp.Body, events)
	}
}

// trailerReader is a streamed body whose producer fills the trailer as the body ends.
type trailerReader struct {
	r   io.Reader
	t   *wire.Header
	sum string
}

func (b *trailerReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.t.Set("X-Checksum", b.sum)
	}
	return n, err
}

// Request trailers go after a chunked body: in-memory and streamed bodies, the
// trailer read when the body ends; fields that may not be trailers are left out.
func TestRequestTrailers(t *testing.T) {
	url, recorded := serveRecorded(t, okResponse("ok"))
	cl := newClient(t, nil)
	send := func(configure func(*Request)) {
		t.Helper()
		var req Request
		req.Method = "POST"
		req.SetURL(url + "/")
		configure(&req)
		var resp Response
		if err := cl.Do(&req, &resp); err != nil || resp.Status != 200 {
			t.Fatalf("%v %d", err, resp.Status)
		}
	}
	send(func(r *Request) {
		r.SetBodyString("in memory")
		r.Trailer = &wire.Header{}
		r.Trailer.Add("X-Checksum", "1234")
		r.Trailer.Add("Content-Length", "99") // framing: never in a trailer
		r.Trailer.Add("Host", "evil.test")    // routing: never in a trailer
	})
	send(func(r *Request) {
		r.Trailer = &wire.Header{}
		r.SetBodyStream(&trailerReader{r: strings.NewReader(strings.Repeat("s", 100<<10)), t: r.Trailer, sum: "abcd"}, -1)
	})
	send(func(r *Request) {
		r.Trailer = &wire.Header{}
		// A known length too: a Trailer makes the body chunked.
		r.SetBodyStream(&trailerReader{r: strings.NewReader("known"), t: r.Trailer, sum: "k"}, 5)
	})
	got := recorded()
	want := []struct{ body, trailer string }{
		{"in memory", "X-Checksum: 1234"}, {strings.Repeat("s", 100<<10), "X-Checksum: abcd"}, {"known", "X-Checksum: k"},
	}
	for i, w := range want {
		r := got[i]
		tr := string(wire.AppendHeader(nil, &r.Trailer))
		if !r.Chunked || string(r.Body) != w.body || tr != w.trailer+"\r\n" || r.Header.Has("Content-Length") {
			t.Errorf("request %d: chunked=%v body %d bytes, trailer %q", i, r.Chunked, len(r.Body), tr)
		}
	}
}

// An invalid trailer field fails the request before the last chunk: the message is left
// unfinished and the connection closed. HTTP/1.0 cannot carry trailers.
func TestRequestTrailerInvalid(t *testing.T) {
	ended := make(chan error, 1)
	url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		_, err := rr.next(nil)
		ended <- err
	})
	cl := newClient(t, nil)
	var req Request
	req.Method = "POST"
	req.SetURL(url + "/")
	req.Trailer = &wire.Header{}
	req.Trailer.Add("X-Bad", "a\r\nInjected: 1")
	req.SetBodyStream(strings.NewReader("body"), -1)
	var resp Response
	if err := cl.Do(&req, &resp); err == nil || !strings.Contains(err.Error(), "invalid trailer field") {
		t.Errorf("err = %v", err)
	}
	if err := <-ended; err == nil {
		t.Error("the server read a complete request")
	}
	req.HTTP10 = true
	if err := cl.Do(&req, &resp); !errors.Is(err, ErrHTTP10Chunked) {
		t.Errorf("HTTP/1.0 with a trailer: %v", err)
	}
}

// The Transport sends http.Request.Trailer, read after the body, to a net/http server
// (an independent implementation).
func TestTransportRequestTrailer(t *testing.T) {
	got := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b) + " " + r.Trailer.Get("X-Sum") + " " + strings.Join(r.TransferEncoding, ",")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	pr, pw := io.Pipe()
	hr, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/", pr)
	hr.Trailer = http.Header{"X-Sum": nil}
	go func() {
		pw.Write([]byte("streamed"))
		hr.Trailer.Set("X-Sum", "42") // set before the body ends, as net/http requires
		pw.Close()
	}()
	resp, err := (&Transport{Client: newClient(t, nil)}).RoundTrip(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if g := <-got; g != "streamed 42 chunked" {
		t.Errorf("server got %q", g)
	}
}

// Response trailers after DoStream: read through BodyReader (Read or WriteTo), they
// are in resp.Trailer once the body ended.
func TestResponseTrailerStream(t *testing.T) {
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"
	base, _ := serveScript(t, chunked, chunked)
	cl := newClient(t, nil)
	for _, useWriteTo := range []bool{false, true} {
		var req Request
		req.SetURL(base + "/")
		var resp Response
		if err := cl.DoStream(&req, &resp); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		var err error
		if useWriteTo {
			_, err = io.Copy(&buf, resp.BodyReader())
		} else {
			_, err = io.Copy(&buf, struct{ io.Reader }{resp.BodyReader()}) // Read only
		}
		if err != nil || buf.String() != "hello" || string(resp.Trailer.Get("X-Sum")) != "42" {
			t.Errorf("WriteTo=%v: %q %v trailer %q", useWriteTo, buf.String(), err, resp.Trailer.Get("X-Sum"))
		}
		resp.Close()
	}
}

// WriteTo streams every framing, and a body that ends early fails with ErrTruncated;
// its connection is closed, never reused.
func TestBodyWriteTo(t *testing.T) {
	big := strings.Repeat("0123456789", 100<<10) // 1 MB: several direct reads
	tests := []struct {
		name, response, want string
		truncated            bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(big)) + "\r\n\r\n" + big, big, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde", false},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big + "|CLOSE", big, false},
		{"length truncated", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort|CLOSE", "short", true},
		{"chunked truncated", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc|CLOSE", "abc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := serveScript(t, tt.response)
			cl := newClient(t, nil)
			var req Request
			req.SetURL(base + "/")
			var resp Response
			if err := cl.DoStream(&req, &resp); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			n, err := io.Copy(&buf, resp.BodyReader())
			resp.Close()
			if buf.String() != tt.want || n != int64(len(tt.want)) {
				t.Errorf("got %d bytes %.20q, want %d", n, buf.String(), len(tt.want))
			}
			if tt.truncated != errors.Is(err, ErrTruncated) || !tt.truncated && err != nil {
				t.Errorf("err = %v, truncated %v", err, tt.truncated)
			}
			if s := cl.Stats(); tt.truncated && (s.Idle != 0 || s.Open != 0) {
				t.Errorf("stats %+v: a truncated body's connection must be closed", s)
			}
		})
	}
}

// A request parsed by wire (as a proxy's server parses it) is forwarded without
// copying its head: Method, Target, UseHeader and a streamed body; and the forwarding
// path allocates nothing per request once warm.
func TestForwardParsedRequest(t *testing.T) {
	url, recorded := serveRecorded(t, okResponse("fwd"))
	in := []byte("POST /a/b?c=d HTTP/1.1\r\nHost: public.example\r\nX-Trace: 7\r\nTransfer-Encoding: chunked\r\n\r\n")
	var p wire.Parser
	var wr wire.Request
	if _, err := p.ParseRequest(in, &wr); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, nil)
	var req Request
	var resp Response
	var upstream URL
	if err := upstream.Set(url); err != nil {
		t.Fatal(err)
	}
	body := strings.NewReader("")
	forward := func() {
		req.Method = Method(wr.Method)
		req.URL = upstream
		req.Target = wr.Target
		req.UseHeader(&wr.Header)
		body.Reset("streamed body")
		req.SetBodyStream(body, -1)
		if err := cl.Do(&req, &resp); err != nil || string(resp.Body) != "fwd" {
			t.Fatalf("%v %q", err, resp.Body)
		}
	}
	forward()
	r := recorded()[0]
	if r.Method != "POST" || r.Target != "/a/b?c=d" || string(r.Header.Get("Host")) != "public.example" ||
		string(r.Header.Get("X-Trace")) != "7" || string(r.Body) != "streamed body" || !r.Chunked ||
		strings.Count(string(wire.AppendHeader(nil, &r.Header)), "Transfer-Encoding") != 1 {
		t.Errorf("upstream saw %s %s %q body %q", r.Method, r.Target, wire.AppendHeader(nil, &r.Header), r.Body)
	}
	if raceEnabled {
		return
	}
	// Allocations, against the canned server (which allocates nothing): a body of known
	// length, since the canned server takes what follows a head as the next head.
	in = []byte("PUT /a/b?c=d HTTP/1.1\r\nHost: public.example\r\nX-Trace: 7\r\nContent-Length: 13\r\n\r\n")
	if _, err := p.ParseRequest(in, &wr); err != nil {
		t.Fatal(err)
	}
	if err := upstream.Set("http://" + testnet.Canned(t, []byte(cannedHello))); err != nil {
		t.Fatal(err)
	}
	forward = func() {
		req.Method = Method(wr.Method)
		req.URL = upstream
		req.Target = wr.Target
		req.UseHeader(&wr.Header)
		body.Reset("streamed body")
		req.SetBodyStream(body, wr.ContentLength)
		if err := cl.Do(&req, &resp); err != nil || string(resp.Body) != "Hello, World!" {
			t.Fatalf("%v %q", err, resp.Body)
		}
	}
	forward()
	if n := testing.AllocsPerRun(500, forward); n != 0 {
		t.Errorf("%.1f allocations per forwarded request, want 0", n)
	}
}

func TestMethodInterned(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PROPFIND"} {
		b := []byte(m)
		if got := Method(b); got != m {
			t.Errorf("Method(%q) = %q", m, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Method([]byte{'G', 'E', 'T'}) }); n != 0 && !raceEnabled {
		t.Errorf("%v allocations for a standard method", n)
	}
}

// Response.Timings are recorded without a Trace: every phase on a new connection, and
// no set-up on a reused one.
func TestResponseTimings(t *testing.T) {
	base := startHop(t, echoConn)
	cl := newClient(t, nil)
	r := get(t, cl, base+"/")
	tm := r.Timings
	order := []time.Time{tm.Start, tm.ConnectStart, tm.ConnectDone, tm.GotConn, tm.WroteRequest, tm.FirstByte, tm.Done}
	for i, x := range order {
		if x.IsZero() || i > 0 && x.Before(order[i-1]) {
			t.Fatalf("phase %d: %v (timings %+v)", i, x, tm)
		}
	}
	if tm.Total() <= 0 || tm.Connect() < 0 {
		t.Errorf("total %v", tm.Total())
	}
	r = get(t, cl, base+"/")
	if !r.Reused || !r.Timings.ConnectStart.IsZero() || r.Timings.FirstByte.IsZero() || r.Timings.Done.IsZero() {
		t.Errorf("reused: %v %+v", r.Reused, r.Timings)
	}
}

// Close fails the requests waiting for a connection at once (they used to wait for
// PoolWaitTimeout).
func TestCloseFailsWaiters(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		started <- struct{}{}
		<-release
		w.Write([]byte("late"))
	})
	defer close(release)
	cl := &Client{MaxConnsPerHost: 1, PoolWaitTimeout: time.Minute}
	go func() {
		var req Request
		req.SetURL(base + "/hold")
		var resp Response
		cl.Do(&req, &resp)
	}()
	<-started
	waited := make(chan error, 1)
	go func() {
		var req Request
		req.SetURL(base + "/wait")
		var resp Response
		waited <- cl.Do(&req, &resp)
	}()
	testnet.WaitFor(t, "the second request to wait", func() bool { return cl.Stats().Waiting == 1 })
	cl.Close()
	select {
	case err := <-waited:
		if !errors.Is(err, ErrClientClosed) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting request is still blocked after Close")
	}
}

// The one rule for defaults: zero means the documented default, negative means none.
func TestDefaultsRule(t *testing.T) {
	var zero, neg Client
	neg = Client{MaxConnsPerHost: -1, MaxIdleConnsPerHost: -1, MaxWaitersPerHost: -1, PoolWaitTimeout: -1,
		IdleTimeout: -1, LivenessCheckMinIdle: -1, ReadTimeout: -1, WriteTimeout: -1, ExpectContinueTimeout: -1,
		MaxRetries: -1, MaxResponseBody: -1, MaxDrain: -1, DrainTimeout: -1}
	type row struct {
		name      string
		zero, neg any
		wantZero  any
		wantNeg   any
	}
	rows := []row{
		{"MaxConnsPerHost", zero.maxConnsPerHost(), neg.maxConnsPerHost(), DefaultMaxConnsPerHost, 1<<31 - 1},
		{"MaxIdleConnsPerHost", zero.maxIdlePerHost(), neg.maxIdlePerHost(), DefaultMaxConnsPerHost, 0},
		{"MaxWaitersPerHost", zero.maxWaiters(), neg.maxWaiters(), DefaultMaxWaitersPerHost, 0},
		{"PoolWaitTimeout", zero.poolWaitTimeout(), neg.poolWaitTimeout(), DefaultPoolWaitTimeout, time.Duration(0)},
		{"IdleTimeout", zero.idleTimeout(), neg.idleTimeout(), DefaultIdleTimeout, time.Duration(1<<63 - 1)},
		{"LivenessCheckMinIdle", zero.livenessMinIdle(), neg.livenessMinIdle(), DefaultLivenessCheckMinIdle, time.Duration(0)},
		{"ReadTimeout", zero.readTimeout(), neg.readTimeout(), DefaultReadTimeout, time.Duration(0)},
		{"WriteTimeout", zero.writeTimeout(), neg.writeTimeout(), DefaultWriteTimeout, time.Duration(0)},
		{"ExpectContinueTimeout", zero.expectTimeout(), neg.expectTimeout(), DefaultExpectContinueTimeout, time.Duration(0)},
		{"MaxRetries", zero.maxRetries(), neg.maxRetries(), DefaultMaxRetries, 0},
		{"MaxResponseBody", zero.maxBody(), neg.maxBody(), int64(DefaultMaxResponseBody), int64(1<<63 - 2)},
		{"MaxDrain", zero.maxDrain(), neg.maxDrain(), int64(DefaultMaxDrain), int64(1<<62 - 1)},
		{"DrainTimeout", zero.drainTimeout(), neg.drainTimeout(), DefaultDrainTimeout, time.Duration(0)},
	}
	for _, r := range rows {
		if r.zero != r.wantZero || r.neg != r.wantNeg {
			t.Errorf("%s: zero → %v (want %v), negative → %v (want %v)", r.name, r.zero, r.wantZero, r.neg, r.wantNeg)
		}
	}
	// And in effect: no idle connections kept; reads without a deadline.
	base := startHop(t, echoConn)
	cl := newClient(t, &Client{MaxIdleConnsPerHost: -1, ReadTimeout: -1, IdleTimeout: -1})
	a, b := get(t, cl, base+"/"), get(t, cl, base+"/")
	if a.Reused || b.Reused || a.ConnID == b.ConnID || cl.Stats().Idle != 0 {
		t.Errorf("MaxIdleConnsPerHost -1 kept a connection: %+v", cl.Stats())
	}
}

// With IdleTimeout negative a connection never expires in the pool.
func TestIdleTimeoutNone(t *testing.T) {
	c := &conn{cl: &Client{IdleTimeout: -1}, lastUsed: time.Now().Add(-1000 * time.Hour)}
	c.idleTTL = c.cl.idleTimeout()
	if c.expired(time.Now()) {
		t.Error("expired without an idle limit")
	}
	c.cl.IdleTimeout = time.Second
	c.idleTTL = c.cl.idleTimeout()
	if !c.expired(time.Now()) {
		t.Error("not expired past its idle limit")
	}
}

// Against hop's own server (TakeOver, interim responses, trailers): 101 and CONNECT
// hand-overs, 103 Early Hints with their fields, response trailers.
func TestHopServerSurface(t *testing.T) {
	base := startHop(t, func(w *server.ResponseWriter, r *server.Request) {
		switch {
		case r.IsMethod("CONNECT"):
			w.WriteHeader(200)
		case r.Header.Has("Upgrade"):
			w.Header().Set("Upgrade", "echo")
			w.WriteHeader(101)
		default:
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(103)
			w.Header().Del("Link")
			w.Trailer().Set("X-Sum", "9")
			w.Write([]byte("hinted"))
			return
		}
		nc, early, err := w.TakeOver()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		io.Copy(nc, io.MultiReader(bytes.NewReader(early), nc))
	})
	var hints []string
	cl := newClient(t, &Client{Trace: &Trace{Got1xx: func(st int, h *wire.Header) error {
		hints = append(hints, itoa(st)+" "+string(h.Get("Link")))
		return nil
	}}})
	r := get(t, cl, base+"/page")
	if r.Status != 200 || string(r.Body) != "hinted" || string(r.Trailer.Get("X-Sum")) != "9" ||
		len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
		t.Errorf("%d %q trailer %q hints %q", r.Status, r.Body, r.Trailer.Get("X-Sum"), hints)
	}
	for _, method := range []string{"GET", "CONNECT"} {
		var req Request
		req.Method = method
		req.SetURL(base + "/")
		if method == "CONNECT" {
			req.Target = []byte("dest.test:443")
		} else {
			req.Header.Set("Upgrade", "echo")
		}
		var resp Response
		if err := cl.Do(&req, &resp); err != nil {
			t.Fatal(err)
		}
		sc := resp.SwitchedConn()
		if sc == nil {
			t.Fatalf("%s: %d, no switched connection", method, resp.Status)
		}
		sc.SetDeadline(time.Now().Add(10 * time.Second))
		sc.Write([]byte(method))
		buf := make([]byte, len(method))
		if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != method {
			t.Errorf("%s: echo %q, %v", method, buf, err)
		}
		sc.Close()
	}
}
