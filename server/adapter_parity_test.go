package server_test

// Tests that hold FromHTTP to what net/http's own server does with the same handler
// and the same bytes on the wire.

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/hop-http/hop/server"
)

// startNetHTTP serves h with net/http's server on a loopback port until the test ends.
func startNetHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: ioWait}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// bothServers serves h through FromHTTP and through net/http; it returns hop's
// address, then net/http's.
func bothServers(t *testing.T, h http.Handler) (hop, nethttp string) {
	t.Helper()
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(h)})
	return ts.addr, startNetHTTP(t, h)
}

// TestFromHTTPHost: the handler's Host is the target's authority when the request
// has one (absolute form, CONNECT), whatever the Host field says (RFC 9112 §3.2.2),
// and the Host field otherwise, as net/http has it; Host never appears in Header.
// Routing on r.Host (ServeMux host patterns, virtual hosts) then judges the request by
// the authority a conforming front proxy judged it by.
func TestFromHTTPHost(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", fmt.Sprintf("host=%s url.host=%s field=%q", r.Host, r.URL.Host, r.Header["Host"]))
		w.WriteHeader(404) // also a CONNECT gets a plain answer
	})
	hopAddr, netAddr := bothServers(t, h)
	for _, tc := range []struct{ req, want string }{
		{"GET /a HTTP/1.1\r\nHost: public.example\r\n\r\n", `host=public.example url.host= field=[]`},
		{"GET http://admin.internal/a HTTP/1.1\r\nHost: public.example\r\n\r\n", `host=admin.internal url.host=admin.internal field=[]`},
		{"GET http://admin.internal:8080/a?q HTTP/1.1\r\nHost: \r\n\r\n", `host=admin.internal:8080 url.host=admin.internal:8080 field=[]`},
		{"CONNECT admin.internal:443 HTTP/1.1\r\nHost: public.example:443\r\n\r\n", `host=admin.internal:443 url.host=admin.internal:443 field=[]`},
		{"GET /a HTTP/1.0\r\n\r\n", `host= url.host= field=[]`},
	} {
		for _, srv := range []struct{ name, addr string }{{"hop", hopAddr}, {"net/http", netAddr}} {
			c := dial(t, srv.addr)
			r := c.roundTrip("GET", tc.req)
			if got := r.get("X-Seen"); r.Status != 404 || got != tc.want {
				t.Errorf("%s: %q: %s, seen %q, want %q", srv.name, tc.req, r, got, tc.want)
			}
		}
	}
}

// TestFromHTTPAbortHandler: a net/http handler that panics with http.ErrAbortHandler
// (httputil.ReverseProxy does when its upstream fails mid-response) gets the
// connection closed without a response and without a log entry, as under net/http;
// any other panic is logged and answered 500 while nothing was sent.
func TestFromHTTPAbortHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/crash" {
			panic("crash")
		}
		w.Header().Set("X-Started", "yes")
		panic(http.ErrAbortHandler)
	})
	logs := &logRecorder{}
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(h), Logger: slog.New(logs)})
	c := dial(t, ts.addr)
	c.write(get("/abort"))
	if r, err := c.readResponse("GET"); err == nil {
		t.Errorf("after http.ErrAbortHandler: %s, want the connection closed with nothing sent", r)
	}
	if m := logs.messages(); len(m) != 0 {
		t.Errorf("http.ErrAbortHandler was logged: %q", m)
	}
	if st := ts.Stats(); st.Rejected[500] != 0 {
		t.Errorf("http.ErrAbortHandler counted as a 500: %v", st.Rejected)
	}
	c = dial(t, ts.addr)
	if r := c.roundTrip("GET", get("/crash")); r.Status != 500 {
		t.Errorf("another panic: %s, want 500", r)
	}
	if m := logs.messages(); len(m) != 1 { // logged before the 500 was written
		t.Errorf("the other panic: logged %q, want one message", m)
	}
}

// TestFromHTTPRequestTrailer: a net/http handler sees a chunked request's trailers as
// under net/http: Request.Trailer holds the announced names (nil values, the Trailer
// field gone from Header) while the body is read, and the values the client sent once
// Body has returned io.EOF.
func TestFromHTTPRequestTrailer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := fmt.Sprintf("%v field=%q", r.Trailer, r.Header["Trailer"])
		body, err := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", fmt.Sprintf("before=%s body=%q err=%v after=%v", before, body, err, r.Trailer))
	})
	hopAddr, netAddr := bothServers(t, h)
	chunked := func(trailerField, trailers string) string {
		return "POST /t HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n" + trailerField +
			"\r\n5\r\nhello\r\n0\r\n" + trailers + "\r\n"
	}
	for _, tc := range []struct{ req, want string }{
		{chunked("Trailer: X-Sum\r\n", "X-Sum: 42\r\n"),
			`before=map[X-Sum:[]] field=[] body="hello" err=<nil> after=map[X-Sum:[42]]`},
		{chunked("Trailer: x-sum, X-Other\r\n", "X-Sum: 42\r\nX-Other: a\r\n"),
			`before=map[X-Other:[] X-Sum:[]] field=[] body="hello" err=<nil> after=map[X-Other:[a] X-Sum:[42]]`},
		{chunked("", ""), `before=map[] field=[] body="hello" err=<nil> after=map[]`},
	} {
		for _, srv := range []struct{ name, addr string }{{"hop", hopAddr}, {"net/http", netAddr}} {
			c := dial(t, srv.addr)
			r := c.roundTrip("POST", tc.req)
			if got := r.get("X-Seen"); r.Status != 200 || got != tc.want {
				t.Errorf("%s: %q: %s\n seen %q\n want %q", srv.name, tc.req, r, got, tc.want)
			}
		}
	}
}
