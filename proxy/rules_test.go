package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
)

// rawOrigin is a raw-socket origin: it records the exact bytes of every request head
// it reads and answers each with respond(n) (n counts requests from 0 across
// connections); an empty answer closes the connection without a response, and an
// answer ending in thenClose is sent and the connection closed, one ending in
// thenHalfClose is sent and the write side shut down (the origin goes on reading:
// a request that still arrives on that connection is counted). Request bodies are
// not read.
type rawOrigin struct {
	mu      sync.Mutex
	heads   []string
	conns   int
	perConn []int // requests received on each connection, in accept order
}

func (o *rawOrigin) start(t testing.TB, respond func(n int, head string) string) string {
	var next int
	return testnet.Raw(t, func(c net.Conn, _ int) {
		o.mu.Lock()
		o.conns++
		ci := len(o.perConn)
		o.perConn = append(o.perConn, 0)
		o.mu.Unlock()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		for {
			head, err := readHead(br)
			if err != nil {
				return
			}
			o.mu.Lock()
			o.heads = append(o.heads, head)
			o.perConn[ci]++
			n := next
			next++
			o.mu.Unlock()
			out := respond(n, head)
			if out == "" {
				return
			}
			if half, ok := strings.CutSuffix(out, thenHalfClose); ok {
				io.WriteString(c, half)
				c.(*net.TCPConn).CloseWrite()
				continue
			}
			closing := strings.HasSuffix(out, thenClose)
			if _, err := io.WriteString(c, strings.TrimSuffix(out, thenClose)); err != nil || closing {
				return
			}
		}
	})
}

func (o *rawOrigin) snapshot() (heads []string, conns int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.heads...), o.conns
}

func readHead(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), "\r\n\r\n") {
		c, err := br.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// thenClose ends a rawOrigin answer that is followed by closing the connection.
const thenClose = "\x00close"

// thenHalfClose ends a rawOrigin answer that is followed by shutting down the write
// side only.
const thenHalfClose = "\x00halfclose"

// requestsPerConn returns how many requests each connection carried.
func (o *rawOrigin) requestsPerConn() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int(nil), o.perConn...)
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// TestRequestHopByHopRemoved: every hop-by-hop field of the client's request, and
// every field its Connection names, is gone at the origin; end-to-end fields arrive.
func TestRequestHopByHopRemoved(t *testing.T) {
	var o rawOrigin
	origin := o.start(t, func(int, string) string { return okResponse })
	for _, mode := range []string{"forward", "reverse"} {
		t.Run(mode, func(t *testing.T) {
			addr, target := proxyFor(t, mode, origin, "/x")
			resp, _ := get(t, addr, "GET "+target+" HTTP/1.1\r\nHost: "+origin+"\r\n"+
				"Connection: keep-alive, X-Secret, x-other\r\nX-Secret: s\r\nX-Other: o\r\n"+
				"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers, deflate\r\n"+
				"Upgrade: websocket\r\nTrailer: X-Sum\r\nProxy-Authorization: Basic dTpw\r\n"+
				"Accept: text/plain\r\nCache-Control: no-cache\r\n\r\n")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			heads, _ := o.snapshot()
			head := heads[len(heads)-1]
			for _, name := range []string{"Connection", "X-Secret", "X-Other", "Keep-Alive", "Proxy-Connection",
				"TE", "Upgrade", "Trailer", "Proxy-Authorization", "Transfer-Encoding"} {
				if strings.Contains(strings.ToLower(head), "\r\n"+strings.ToLower(name)+":") {
					t.Errorf("%s reached the origin:\n%s", name, head)
				}
			}
			for _, want := range []string{"\r\nAccept: text/plain\r\n", "\r\nCache-Control: no-cache\r\n", "\r\nVia: 1.1 hop-test\r\n", "\r\nHost: " + origin + "\r\n"} {
				if !strings.Contains(head, want) {
					t.Errorf("origin head lacks %q:\n%s", want, head)
				}
			}
		})
	}
}

// TestResponseHopByHopRemoved: the origin's hop-by-hop fields never reach the client,
// and a chunked body is re-framed by the proxy.
func TestResponseHopByHopRemoved(t *testing.T) {
	var o rawOrigin
	origin := o.start(t, func(int, string) string {
		return "HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nX-Hop: 1\r\nKeep-Alive: timeout=9\r\n" +
			"Proxy-Authenticate: Basic\r\nUpgrade: h2c\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n" +
			"Proxy-Connection: close\r\nX-End: e\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n"
	})
	addr, _ := forwardProxy(t, nil)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET http://"+origin+"/ HTTP/1.1\r\nHost: "+origin+"\r\n\r\n")
	head := readRawHead(t, br)
	low := strings.ToLower(head)
	for _, name := range []string{"connection", "x-hop", "keep-alive", "proxy-authenticate", "upgrade", "proxy-connection"} {
		if strings.Contains(low, "\r\n"+name+":") {
			t.Errorf("%s reached the client:\n%s", name, head)
		}
	}
	if !strings.Contains(head, "\r\nX-End: e\r\n") || !strings.Contains(head, "\r\nVia: 1.1 hop-test\r\n") {
		t.Errorf("client head:\n%s", head)
	}
	// The body is re-framed by the proxy: chunked again because a trailer is
	// forwarded (and announced: Trailer is kept exactly when the trailer goes along).
	if !strings.Contains(head, "\r\nTrailer: X-Sum\r\n") || !strings.Contains(head, "\r\nTransfer-Encoding: chunked\r\n") {
		t.Errorf("want a chunked body with its Trailer announced:\n%s", head)
	}
	want := "b\r\nhello world\r\n0\r\nX-Sum: 1\r\n\r\n"
	body := make([]byte, len(want))
	if _, err := io.ReadFull(br, body); err != nil || string(body) != want {
		t.Errorf("body %q, %v; want %q", body, err, want)
	}
}

// TestHTTP10KeepAliveNeverForwarded: a 1.0 client's Connection: keep-alive is the
// proxy's business; the origin sees an HTTP/1.1 request without it, and the client
// keeps its connection with the proxy.
func TestHTTP10KeepAliveNeverForwarded(t *testing.T) {
	var o rawOrigin
	origin := o.start(t, func(int, string) string { return okResponse })
	addr, _ := forwardProxy(t, nil)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for range 2 {
		resp, body := roundTrip(t, c, br, "GET http://"+origin+"/ HTTP/1.0\r\nConnection: keep-alive\r\nKeep-Alive: 300\r\n\r\n")
		if resp.StatusCode != 200 || body != "ok" || resp.Close {
			t.Fatalf("status %d body %q close %v", resp.StatusCode, body, resp.Close)
		}
		if v := resp.Header.Get("Via"); v != "1.1 hop-test" {
			t.Errorf("Via %q", v)
		}
	}
	heads, _ := o.snapshot()
	for _, h := range heads {
		if !strings.HasPrefix(h, "GET / HTTP/1.1\r\n") || strings.Contains(strings.ToLower(h), "keep-alive") {
			t.Errorf("origin got:\n%s", h)
		}
		if !strings.Contains(h, "\r\nVia: 1.0 hop-test\r\n") {
			t.Errorf("Via for a 1.0 request should say 1.0:\n%s", h)
		}
	}
}

func TestViaAppendedAndLoopDetected(t *testing.T) {
	var o rawOrigin
	origin := o.start(t, func(int, string) string {
		return "HTTP/1.1 200 OK\r\nVia: 1.1 upstream-cache\r\nContent-Length: 2\r\n\r\nok"
	})
	addr, _ := forwardProxy(t, nil)
	resp, _ := get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nVia: 1.0 first, 1.1 second (squid)\r\n\r\n")
	if got := resp.Header.Values("Via"); strings.Join(got, ", ") != "1.1 upstream-cache, 1.1 hop-test" {
		t.Errorf("client Via %q", got)
	}
	heads, _ := o.snapshot()
	if !strings.Contains(heads[0], "Via: 1.0 first, 1.1 second (squid)\r\nVia: 1.1 hop-test\r\n") {
		t.Errorf("origin head:\n%s", heads[0])
	}
	// A request that already passed this proxy is a loop.
	resp, body := get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nVia: 1.1 a, 1.1 HOP-TEST (hop)\r\n\r\n")
	if resp.StatusCode != 508 || !strings.Contains(body, "loop") {
		t.Errorf("loop: %d %q", resp.StatusCode, body)
	}
	if heads, _ := o.snapshot(); len(heads) != 1 {
		t.Errorf("the looping request reached the origin")
	}
}

func TestProxyChainNoFalseLoop(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	back, _ := reverseProxy(t, func(p *Proxy, _ *Transport) { p.Name = "back" }, "http://"+origin)
	front, _ := reverseProxy(t, func(p *Proxy, _ *Transport) { p.Name = "front" }, "http://"+back)
	resp, body := get(t, front, "GET / HTTP/1.1\r\nHost: site\r\n\r\n")
	if resp.StatusCode != 200 || body != "origin says hi" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if v := fieldLines(rc.last(t), "Via"); strings.Join(v, ", ") != "1.1 front, 1.1 back" {
		t.Errorf("origin Via %q", v)
	}
	if v := resp.Header.Values("Via"); strings.Join(v, ", ") != "1.1 back, 1.1 front" {
		t.Errorf("client Via %q", v)
	}
}

func TestMaxForwards(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := forwardProxy(t, nil)
	// 0: the proxy answers itself.
	resp, _ := get(t, addr, "OPTIONS http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n")
	if resp.StatusCode != 200 || resp.Header.Get("Allow") == "" {
		t.Errorf("OPTIONS Max-Forwards 0: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := get(t, addr, "TRACE http://"+origin+"/t HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nCookie: secret\r\nX-A: 1\r\n\r\n")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "message/http" ||
		!strings.HasPrefix(body, "TRACE http://"+origin+"/t HTTP/1.1\r\n") || !strings.Contains(body, "X-A: 1") || strings.Contains(body, "secret") {
		t.Errorf("TRACE Max-Forwards 0: %d %q", resp.StatusCode, body)
	}
	if n, _ := rc.count(); n != 0 {
		t.Fatalf("origin received %d requests", n)
	}
	// Otherwise it is decremented.
	get(t, addr, "OPTIONS http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 5\r\n\r\n")
	if v := fieldLines(rc.last(t), "Max-Forwards"); len(v) != 1 || v[0] != "4" {
		t.Errorf("Max-Forwards at origin %q", v)
	}
	// Other methods leave it alone.
	get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n")
	if v := fieldLines(rc.last(t), "Max-Forwards"); len(v) != 1 || v[0] != "0" {
		t.Errorf("GET Max-Forwards at origin %q", v)
	}
}

func TestForwardedFields(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	const spoof = "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nForwarded: for=6.6.6.6\r\n"
	t.Run("untrusted peer: replaced", func(t *testing.T) {
		addr, _ := reverseProxy(t, nil, "http://"+origin)
		get(t, addr, "GET / HTTP/1.1\r\nHost: site.test\r\n"+spoof+"\r\n")
		h := rc.last(t)
		for name, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http",
			"X-Forwarded-Host": "site.test", "Forwarded": "for=127.0.0.1;host=site.test;proto=http"} {
			if v := fieldLines(h, name); len(v) != 1 || v[0] != want {
				t.Errorf("%s = %q, want %q", name, v, want)
			}
		}
	})
	t.Run("trusted peer: extended", func(t *testing.T) {
		addr, _ := reverseProxy(t, func(p *Proxy, _ *Transport) {
			p.Trust = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}, "http://"+origin)
		get(t, addr, "GET / HTTP/1.1\r\nHost: site.test\r\n"+spoof+"X-Forwarded-For: 7.7.7.7\r\n\r\n")
		h := rc.last(t)
		for name, want := range map[string]string{"X-Forwarded-For": "6.6.6.6, 7.7.7.7, 127.0.0.1", "X-Forwarded-Proto": "https",
			"X-Forwarded-Host": "evil", "Forwarded": "for=6.6.6.6, for=127.0.0.1;host=site.test;proto=http"} {
			if v := fieldLines(h, name); len(v) != 1 || v[0] != want {
				t.Errorf("%s = %q, want %q", name, v, want)
			}
		}
	})
	t.Run("forward mode adds none", func(t *testing.T) {
		addr, _ := forwardProxy(t, nil)
		get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
		h := rc.last(t)
		if fieldLines(h, "X-Forwarded-For") != nil || fieldLines(h, "Forwarded") != nil {
			t.Errorf("forward proxy added forwarding fields:\n%s", h)
		}
	})
}

func TestHostHeader(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	for _, tc := range []struct{ mode, want string }{{"", "site.test"}, {"upstream", origin}, {"fixed.example", "fixed.example"}} {
		addr, _ := reverseProxy(t, func(_ *Proxy, tr *Transport) { tr.HostHeader = tc.mode }, "http://"+origin)
		get(t, addr, "GET / HTTP/1.1\r\nHost: site.test\r\n\r\n")
		if v := fieldLines(rc.last(t), "Host"); len(v) != 1 || v[0] != tc.want {
			t.Errorf("HostHeader %q: origin Host %q, want %q", tc.mode, v, tc.want)
		}
	}
	// Forward mode: Host comes from the absolute target, whatever the client sent.
	addr, _ := forwardProxy(t, nil)
	get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: wrong.example\r\n\r\n")
	if v := fieldLines(rc.last(t), "Host"); len(v) != 1 || v[0] != origin {
		t.Errorf("forward: origin Host %q, want %q", v, origin)
	}
}

// TestConnectionReuse: 50 sequential requests over 5 client connections reach the
// origin over 1 upstream connection.
func TestConnectionReuse(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	for _, mode := range []string{"forward", "reverse"} {
		t.Run(mode, func(t *testing.T) {
			rc.mu.Lock()
			rc.heads, rc.conns = nil, nil
			rc.mu.Unlock()
			addr, target := proxyFor(t, mode, origin, "/")
			clientConns := map[string]bool{}
			for i := range 5 {
				c := dial(t, addr)
				clientConns[c.LocalAddr().String()] = true
				br := bufio.NewReader(c)
				for j := range 10 {
					resp, body := roundTrip(t, c, br, fmt.Sprintf("GET %s?c=%d&r=%d HTTP/1.1\r\nHost: %s\r\n\r\n", target, i, j, origin))
					if resp.StatusCode != 200 || body != "origin says hi" {
						t.Fatalf("%d %q", resp.StatusCode, body)
					}
				}
				c.Close()
			}
			reqs, conns := rc.count()
			if len(clientConns) != 5 || reqs != 50 || conns != 1 {
				t.Errorf("%d client connections, %d requests at the origin over %d upstream connections; want 5, 50, 1",
					len(clientConns), reqs, conns)
			}
		})
	}
}

// TestTruncatedUpstream: a body that ends before its declared length or last chunk
// reaches the client as an aborted message, and the upstream connection is not
// reused: the origin only half-closes it and keeps reading, so a proxy that sent the
// next request on it would be seen.
func TestTruncatedUpstream(t *testing.T) {
	for _, tc := range []struct {
		name, resp string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly twenty bytes..."},
		{"content-length large", "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("x", 200000)},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"},
		{"chunked large", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("2710\r\n"+strings.Repeat("y", 10000)+"\r\n", 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o rawOrigin
			origin := o.start(t, func(n int, _ string) string {
				if n == 0 {
					return tc.resp + thenHalfClose
				}
				return okResponse
			})
			addr, _ := forwardProxy(t, nil)
			c := dial(t, addr)
			io.WriteString(c, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
			all, err := io.ReadAll(c) // the proxy must close the connection
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			if complete(string(all)) {
				t.Fatalf("the client got a complete message for a truncated upstream body:\n%.300s", all)
			}
			// The next request goes over a new upstream connection.
			r2, b2 := get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
			if r2.StatusCode != 200 || b2 != "ok" {
				t.Fatalf("second request: %d %q", r2.StatusCode, b2)
			}
			if per := o.requestsPerConn(); len(per) != 2 || per[0] != 1 || per[1] != 1 {
				t.Errorf("requests per origin connection %v, want [1 1] (the truncated one is not reused)", per)
			}
		})
	}
}

// TestAbortReleasesUpstream: a response cut short (the proxy aborts the client's
// message) still ends its upstream exchange: the upstream's in-flight count (which
// least-connections balances on) and the client pool's active count go back to 0.
func TestAbortReleasesUpstream(t *testing.T) {
	var o rawOrigin
	origin := o.start(t, func(int, string) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly twenty bytes..." + thenClose
	})
	cl := testClient(t)
	addr, p := reverseProxy(t, func(_ *Proxy, tr *Transport) { tr.Client = cl }, "http://"+origin)
	for range 5 {
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if all, _ := io.ReadAll(c); complete(string(all)) {
			t.Fatalf("complete message for a truncated body: %q", all)
		}
	}
	bal := p.Exchanger.(*Transport).Upstreams
	testnet.WaitFor(t, "the in-flight count to return to 0", func() bool { return bal.States()[0].InFlight == 0 })
	testnet.WaitFor(t, "the upstream pool to have no active exchange", func() bool { return cl.Stats().Active == 0 })
}

// complete reports whether raw holds one whole response (head and framed body),
// judged by net/http's parser.
func complete(raw string) bool {
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		return false
	}
	_, err = io.ReadAll(resp.Body)
	return err == nil
}

func TestHTTP10WithoutHostReverse(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := reverseProxy(t, nil, "http://"+origin)
	resp, body := get(t, addr, "GET /old HTTP/1.0\r\n\r\n")
	if resp.StatusCode != 200 || body != "origin says hi" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if h := fieldLines(rc.last(t), "Host"); len(h) != 1 || h[0] != addr {
		t.Errorf("Host at the origin %q, want the proxy's address %s", h, addr)
	}
}

// TestOptionsAsterisk: OPTIONS * to a reverse proxy reaches the upstream as OPTIONS *,
// and a forward proxy sends OPTIONS for an absolute URI with an empty path as
// OPTIONS * (RFC 9112 §3.2.4); with a path it stays.
func TestOptionsAsterisk(t *testing.T) {
	var o rawOrigin
	origin := o.start(t, func(int, string) string { return okResponse })
	last := func() string {
		heads, _ := o.snapshot()
		if len(heads) == 0 {
			return ""
		}
		line, _, _ := strings.Cut(heads[len(heads)-1], "\r\n")
		return line
	}
	rev, _ := reverseProxy(t, nil, "http://"+origin)
	fwd, _ := forwardProxy(t, nil)
	for _, tc := range []struct{ addr, req, want string }{
		{rev, "OPTIONS * HTTP/1.1\r\nHost: site\r\n\r\n", "OPTIONS * HTTP/1.1"},
		{fwd, "OPTIONS http://" + origin + " HTTP/1.1\r\nHost: " + origin + "\r\n\r\n", "OPTIONS * HTTP/1.1"},
		{fwd, "OPTIONS http://" + origin + "/ HTTP/1.1\r\nHost: " + origin + "\r\n\r\n", "OPTIONS / HTTP/1.1"},
		{fwd, "OPTIONS http://" + origin + "?q HTTP/1.1\r\nHost: " + origin + "\r\n\r\n", "OPTIONS /?q HTTP/1.1"},
	} {
		resp, body := get(t, tc.addr, tc.req)
		if resp.StatusCode != 200 || body != "ok" || last() != tc.want {
			t.Errorf("%q: %d %q, the origin got %q; want %q", strings.SplitN(tc.req, "\r\n", 2)[0], resp.StatusCode, body, last(), tc.want)
		}
	}
}
