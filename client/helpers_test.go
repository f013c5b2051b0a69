package client

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// startHop serves h with hop's server on a loopback port and returns its base URL
// ("http://127.0.0.1:port"). configure, if set, adjusts the server before it starts.
func startHop(t testing.TB, h server.HandlerFunc, configure ...func(*server.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: h}
	for _, f := range configure {
		f(srv)
	}
	scheme := "http"
	if srv.TLSConfig != nil {
		scheme = "https"
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return scheme + "://" + ln.Addr().String()
}

// newClient returns a Client closed at the end of the test.
func newClient(t testing.TB, c *Client) *Client {
	t.Helper()
	if c == nil {
		c = &Client{}
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// reqReader reads requests from a raw server connection with wire.Parser.
type reqReader struct {
	c   net.Conn
	buf []byte
	p   wire.Parser
}

// testRequest is a request read by a raw test server.
type testRequest struct {
	Method, Target string
	Minor          uint8
	Header         wire.Header
	Body           []byte
	Trailer        wire.Header // of a chunked body
	Chunked        bool
	KeepAlive      bool
	Expect100      bool
}

var errNoRequest = errors.New("no request")

// next reads one request with its body. It returns errNoRequest when the client
// closed the connection between requests. If beforeBody is set it is called after
// the head (to answer Expect: 100-continue, say).
func (r *reqReader) next(beforeBody func(*testRequest)) (*testRequest, error) {
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var wr wire.Request
	tmp := make([]byte, 4096)
	for {
		n, err := r.p.ParseRequest(r.buf, &wr)
		if err == nil {
			tr := &testRequest{Method: string(wr.Method), Target: string(wr.Target), Minor: wr.Minor,
				KeepAlive: wr.KeepAlive, Expect100: wr.Expect100}
			tr.Header.CopyFrom(&wr.Header)
			framing, length := wr.Framing, wr.ContentLength
			r.buf = r.buf[n:]
			if beforeBody != nil {
				beforeBody(tr)
			}
			switch framing {
			case wire.FramingLength:
				for int64(len(r.buf)) < length {
					k, err := r.c.Read(tmp)
					if k == 0 && err != nil {
						return nil, err
					}
					r.buf = append(r.buf, tmp[:k]...)
				}
				tr.Body = append([]byte(nil), r.buf[:length]...)
				r.buf = r.buf[length:]
			case wire.FramingChunked:
				tr.Chunked = true
				var d wire.ChunkedDecoder
				defer func() { tr.Trailer.CopyFrom(&d.Trailer) }()
				for !d.Done() {
					used, data, err := d.Decode(r.buf)
					if err != nil {
						return nil, err
					}
					tr.Body = append(tr.Body, data...)
					r.buf = r.buf[used:]
					if !d.Done() && (used == 0 || len(r.buf) == 0) {
						k, err := r.c.Read(tmp)
						if k == 0 && err != nil {
							return nil, err
						}
						r.buf = append(r.buf, tmp[:k]...)
					}
				}
			}
			return tr, nil
		}
		if err != wire.ErrNeedMore {
			return nil, err
		}
		k, err := r.c.Read(tmp)
		if k == 0 && err != nil {
			if len(r.buf) == 0 {
				return nil, errNoRequest
			}
			return nil, err
		}
		r.buf = append(r.buf, tmp[:k]...)
	}
}

// serveRequests runs a raw server that reads requests (heads, bodies and trailers)
// and writes what answer returns for each: "CLOSE" closes the connection instead, and
// a suffix "|CLOSE" closes it after the answer. It returns the base URL and the
// requests read so far.
func serveRequests(t *testing.T, answer func(r *testRequest) string) (string, func() []*testRequest) {
	var mu sync.Mutex
	var got []*testRequest
	url := "http://" + testnet.Raw(t, func(c net.Conn, _ int) {
		rr := &reqReader{c: c}
		for {
			r, err := rr.next(nil)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
			resp := answer(r)
			if resp == "CLOSE" {
				return
			}
			body, closing := strings.CutSuffix(resp, "|CLOSE")
			if _, err := c.Write([]byte(body)); err != nil || closing {
				return
			}
		}
	})
	return url, func() []*testRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]*testRequest(nil), got...)
	}
}

// serveRecorded answers every request with resp (see serveRequests).
func serveRecorded(t *testing.T, resp string) (string, func() []*testRequest) {
	return serveRequests(t, func(*testRequest) string { return resp })
}

// okResponse is a minimal HTTP/1.1 response with body.
func okResponse(body string, extra ...string) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\n")
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// get runs one GET with Do and returns the response, failing the test on error.
func get(t testing.TB, cl *Client, url string) *Response {
	t.Helper()
	var req Request
	if err := req.SetURL(url); err != nil {
		t.Fatal(err)
	}
	resp := &Response{}
	if err := cl.Do(&req, resp); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

// waitIdleClosed waits until the server's close of the client's only idle connection
// has reached the client's socket (FIN, RST or a TLS alert waiting), so that tests of
// the liveness check do not depend on timing.
func waitIdleClosed(t testing.TB, cl *Client) {
	t.Helper()
	testnet.WaitFor(t, "the server's close to reach the idle connection", func() bool {
		for _, p := range cl.allPools() {
			p.mu.Lock()
			closed := len(p.idle) == 1 && p.idle[0].peekState() != peekAlive
			p.mu.Unlock()
			if closed {
				return true
			}
		}
		return false
	})
}
