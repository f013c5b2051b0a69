package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/testnet"
)

// closedPort returns a loopback address nobody listens on.
func closedPort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestBadGateway(t *testing.T) {
	dead := closedPort(t)
	var malformed rawOrigin
	bad := malformed.start(t, func(int, string) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	})
	var silent rawOrigin
	hangup := silent.start(t, func(int, string) string { return "" })
	reset := testnet.Raw(t, func(c net.Conn, _ int) {
		readHead(bufio.NewReader(c))
		c.(*net.TCPConn).SetLinger(0) // close with RST
	})
	addr, _ := forwardProxy(t, nil)
	for _, tc := range []struct{ name, origin, kind string }{
		{"refused", dead, "connection_refused"},
		{"smuggling-shaped response", bad, "http_protocol_error"},
		{"closed without answer", hangup, "connection_terminated"},
		{"reset", reset, "connection_terminated"},
	} {
		resp, body := get(t, addr, "GET http://"+tc.origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 502 || resp.Header.Get("Proxy-Status") != "hop-test; error="+tc.kind {
			t.Errorf("%s: %d, Proxy-Status %q, body %q", tc.name, resp.StatusCode, resp.Header.Get("Proxy-Status"), body)
		}
	}
}

func TestGatewayTimeout(t *testing.T) {
	var o rawOrigin
	slow := o.start(t, func(int, string) string {
		time.Sleep(2 * time.Second) // longer than the upstream timeout
		return okResponse
	})
	addr, _ := forwardProxy(t, func(_ *Proxy, tr *Transport) {
		tr.Client = &client.Client{ReadTimeout: 300 * time.Millisecond, ConnectTimeout: time.Second}
		t.Cleanup(func() { tr.Client.Close() })
	})
	// The origin answers after 2 s: a 504 can only come from the 300 ms timeout.
	resp, _ := get(t, addr, "GET http://"+slow+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 504 || resp.Header.Get("Proxy-Status") != "hop-test; error=http_response_header_timeout" {
		t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Proxy-Status"))
	}
}

// TestHeadAndBodyTimeouts: the wait for the response head and the silence inside a
// streamed body have separate bounds (client.Client's ResponseHeaderTimeout and
// ReadTimeout): a slow head is a 504, a body whose pieces come slower than the head's
// bound but within the body's streams whole, and a body silent for longer than the
// body's bound reaches the client as an aborted message.
func TestHeadAndBodyTimeouts(t *testing.T) {
	piece := strings.Repeat("x", 100)
	origin := testnet.Raw(t, func(c net.Conn, _ int) {
		br := bufio.NewReader(c)
		head, err := readHead(br)
		if err != nil {
			return
		}
		switch {
		case strings.HasPrefix(head, "GET /slow-head "):
			time.Sleep(800 * time.Millisecond) // past the head's bound, within the body's
			io.WriteString(c, okResponse)
		case strings.HasPrefix(head, "GET /slow-body "):
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n")
			for range 3 {
				time.Sleep(600 * time.Millisecond) // twice the head's bound
				io.WriteString(c, piece)
			}
		case strings.HasPrefix(head, "GET /stalled-body "):
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n"+piece)
			time.Sleep(4 * time.Second) // longer than the body's bound
		}
	})
	addr, _ := forwardProxy(t, func(_ *Proxy, tr *Transport) {
		tr.Client = &client.Client{ResponseHeaderTimeout: 300 * time.Millisecond,
			ReadTimeout: 1500 * time.Millisecond, ConnectTimeout: time.Second}
		t.Cleanup(func() { tr.Client.Close() })
	})
	resp, _ := get(t, addr, "GET http://"+origin+"/slow-head HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 504 || resp.Header.Get("Proxy-Status") != "hop-test; error=http_response_header_timeout" {
		t.Errorf("slow head: %d %q", resp.StatusCode, resp.Header.Get("Proxy-Status"))
	}
	resp, body := get(t, addr, "GET http://"+origin+"/slow-body HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || body != strings.Repeat(piece, 3) {
		t.Errorf("slow body: %d, %d bytes", resp.StatusCode, len(body))
	}
	c := dial(t, addr)
	io.WriteString(c, "GET http://"+origin+"/stalled-body HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	if err == nil || len(got) != len(piece) {
		t.Errorf("stalled body: %d bytes, %v; want the first piece and an aborted message", len(got), err)
	}
}

// TestRetryOnDeadReusedConnection: the origin answers the first request, then closes
// the connection when the next one arrives, without a response byte. A GET is sent
// again on a new connection; a POST is not (502), and reaches the origin once.
func TestRetryOnDeadReusedConnection(t *testing.T) {
	for _, tc := range []struct {
		method, body string
		wantStatus   int
		wantHeads    int
	}{
		{"GET", "", 200, 3},
		{"POST", "payload", 502, 2},
	} {
		t.Run(tc.method, func(t *testing.T) {
			var o rawOrigin
			origin := o.start(t, func(n int, _ string) string {
				if n == 1 {
					return "" // the reused connection dies under the second request
				}
				return okResponse
			})
			addr, _ := forwardProxy(t, func(_ *Proxy, tr *Transport) {
				// The liveness check would notice nothing anyway (the origin closes only
				// after reading the request), but make the reuse certain.
				tr.Client.LivenessCheckMinIdle = time.Hour
			})
			resp, _ := get(t, addr, "GET http://"+origin+"/warm HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp.StatusCode != 200 {
				t.Fatalf("warm-up %d", resp.StatusCode)
			}
			req := tc.method + " http://" + origin + "/again HTTP/1.1\r\nHost: x\r\n"
			if tc.body != "" {
				req += "Content-Type: text/plain\r\nContent-Length: 7\r\n\r\n" + tc.body
			} else {
				req += "\r\n"
			}
			resp, body := get(t, addr, req)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("%s on a dead reused connection: %d %q, want %d", tc.method, resp.StatusCode, body, tc.wantStatus)
			}
			heads, conns := o.snapshot()
			if len(heads) != tc.wantHeads {
				t.Errorf("origin saw %d requests over %d connections, want %d requests", len(heads), conns, tc.wantHeads)
			}
		})
	}
}

func TestAllowFrom(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := forwardProxy(t, func(p *Proxy, _ *Transport) {
		p.AllowFrom = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	resp, _ := get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 403 {
		t.Errorf("client outside --allow-from: %d", resp.StatusCode)
	}
	if n, _ := rc.count(); n != 0 {
		t.Error("a refused request reached the origin")
	}
	// Default: loopback only, which the test client is.
	addr, _ = forwardProxy(t, nil)
	if resp, _ := get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("loopback client with the default policy: %d", resp.StatusCode)
	}
	p := &Proxy{}
	p.init()
	for a, want := range map[string]bool{"127.0.0.1": true, "::1": true, "::ffff:127.0.0.2": true, "192.168.1.1": false, "8.8.8.8": false} {
		if got := p.allowed(netip.MustParseAddr(a)); got != want {
			t.Errorf("default allowed(%s) = %v", a, got)
		}
	}
}

func TestProxyAuth(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := forwardProxy(t, func(p *Proxy, _ *Transport) { p.Auth = "alice:s3cret" })
	resp, _ := get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 407 || !strings.HasPrefix(resp.Header.Get("Proxy-Authenticate"), "Basic realm=") {
		t.Errorf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("Proxy-Authenticate"))
	}
	resp, _ = get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic YWxpY2U6d3Jvbmc=\r\n\r\n")
	if resp.StatusCode != 407 {
		t.Errorf("wrong credentials: %d", resp.StatusCode)
	}
	if n, _ := rc.count(); n != 0 {
		t.Fatal("an unauthenticated request reached the origin")
	}
	// alice:s3cret
	resp, _ = get(t, addr, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: basic YWxpY2U6czNjcmV0\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("right credentials: %d", resp.StatusCode)
	}
	if v := fieldLines(rc.last(t), "Proxy-Authorization"); v != nil {
		t.Errorf("credentials forwarded to the origin: %q", v)
	}
}

func TestForwardModeNeedsAbsoluteForm(t *testing.T) {
	addr, _ := forwardProxy(t, nil)
	resp, body := get(t, addr, "GET /local HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 400 || !strings.Contains(body, "absolute") {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
}

// TestSmugglingRejectedBeforeForwarding: the server's strictness applies to proxied
// requests: nothing ambiguous reaches the origin.
func TestSmugglingRejectedBeforeForwarding(t *testing.T) {
	var o rawOrigin
	origin := o.start(t, func(int, string) string { return okResponse })
	addr, _ := forwardProxy(t, nil)
	for _, raw := range []string{
		"POST http://" + origin + "/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST http://" + origin + "/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
		"POST http://" + origin + "/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
		"GET http://" + origin + "/ HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n",
		"GET http://" + origin + "/ HTTP/1.1\r\nHost : x\r\n\r\n",
	} {
		c := dial(t, addr)
		io.WriteString(c, raw)
		resp, err := readStatus(bufio.NewReader(c))
		if err != nil || resp != 400 {
			t.Errorf("%q: status %d, %v", raw, resp, err)
		}
	}
	if heads, _ := o.snapshot(); len(heads) != 0 {
		t.Errorf("origin received %d requests:\n%s", len(heads), strings.Join(heads, "\n"))
	}
}

func readStatus(br *bufio.Reader) (int, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, err
	}
	var code int
	_, err = fmt.Sscanf(line, "HTTP/1.1 %d", &code)
	return code, err
}
