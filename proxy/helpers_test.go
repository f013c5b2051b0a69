package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

// serve runs h on a hop server on a free loopback port and returns its address.
func serve(t testing.TB, h server.Handler) string {
	t.Helper()
	return serveWith(t, &server.Server{Handler: h})
}

func serveWith(t testing.TB, s *server.Server) string {
	t.Helper()
	return testnet.ServeWith(t, s)
}

// testClient is an upstream client with bounded waits for tests.
func testClient(t testing.TB) *client.Client {
	c := &client.Client{ConnectTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	t.Cleanup(func() { c.Close() })
	return c
}

// forwardProxy starts a forward proxy and returns its address and the Proxy.
func forwardProxy(t testing.TB, configure func(p *Proxy, tr *Transport)) (string, *Proxy) {
	t.Helper()
	tr := &Transport{Client: testClient(t)}
	p := &Proxy{Exchanger: tr, Name: "hop-test"}
	if configure != nil {
		configure(p, tr)
	}
	return serve(t, p), p
}

// reverseProxy starts a reverse proxy in front of the upstream URLs.
func reverseProxy(t testing.TB, configure func(p *Proxy, tr *Transport), upstreams ...string) (string, *Proxy) {
	t.Helper()
	bal, err := NewBalancer(RoundRobin, upstreams...)
	if err != nil {
		t.Fatal(err)
	}
	tr := &Transport{Client: testClient(t), Upstreams: bal}
	p := &Proxy{Exchanger: tr, Name: "hop-test", Reverse: true}
	if configure != nil {
		configure(p, tr)
	}
	return serve(t, p), p
}

// dial connects to addr with a deadline that bounds the whole test conversation.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes a raw request on c and reads one response with net/http's parser
// (an independent peer). The body is read whole.
func roundTrip(t testing.TB, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, br, raw[:strings.IndexByte(raw, ' ')])
}

// readResponse reads one response to a request with the given method.
func readResponse(t testing.TB, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the response body: %v (got %d bytes)", err, len(body))
	}
	return resp, string(body)
}

// get sends one raw request on a new connection.
func get(t testing.TB, addr, raw string) (*http.Response, string) {
	t.Helper()
	c := dial(t, addr)
	return roundTrip(t, c, bufio.NewReader(c), raw)
}

// recorder is an origin handler that records the heads it receives.
type recorder struct {
	mu     sync.Mutex
	heads  []string // request line and fields as received, one "Name: value" per line
	conns  map[uint64]bool
	bodies []string
	handle func(w *server.ResponseWriter, r *server.Request)
}

func (rc *recorder) ServeHOP(w *server.ResponseWriter, r *server.Request) {
	var b strings.Builder
	b.WriteString(string(r.Method) + " " + string(r.Target) + "\n")
	for i := 0; i < r.Header.Len(); i++ {
		n, v := r.Header.At(i)
		b.WriteString(string(n) + ": " + string(v) + "\n")
	}
	body, _ := io.ReadAll(r.Body())
	rc.mu.Lock()
	rc.heads = append(rc.heads, b.String())
	rc.bodies = append(rc.bodies, string(body))
	if rc.conns == nil {
		rc.conns = map[uint64]bool{}
	}
	rc.conns[r.ConnID()] = true
	rc.mu.Unlock()
	if rc.handle != nil {
		rc.handle(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteString("origin says hi")
}

func (rc *recorder) last(t testing.TB) string {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.heads) == 0 {
		t.Fatal("the origin received nothing")
	}
	return rc.heads[len(rc.heads)-1]
}

func (rc *recorder) count() (requests, conns int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.heads), len(rc.conns)
}

// fieldLines returns the values of name in a recorded head.
func fieldLines(head, name string) []string {
	var out []string
	for _, l := range strings.Split(head, "\n") {
		if i := strings.Index(l, ": "); i > 0 && strings.EqualFold(l[:i], name) {
			out = append(out, l[i+2:])
		}
	}
	return out
}

// readRawHead reads bytes from c until the end of a head (CRLF CRLF) and returns
// them, with what followed.
func readRawHead(t testing.TB, br *bufio.Reader) string {
	t.Helper()
	var b bytes.Buffer
	for !bytes.HasSuffix(b.Bytes(), []byte("\r\n\r\n")) {
		c, err := br.ReadByte()
		if err != nil {
			t.Fatalf("reading a head: %v (so far %q)", err, b.String())
		}
		b.WriteByte(c)
	}
	return b.String()
}

// proxyFor starts a proxy in mode "forward" or "reverse" in front of origin and returns
// its address and the request-target that reaches origin's path through it.
func proxyFor(t testing.TB, mode, origin, path string) (addr, target string) {
	t.Helper()
	if mode == "forward" {
		addr, _ = forwardProxy(t, nil)
		return addr, "http://" + origin + path
	}
	addr, _ = reverseProxy(t, nil, "http://"+origin)
	return addr, path
}
