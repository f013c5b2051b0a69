package dumbproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
)

// An origin that honours keep-alive keeps the dumb proxy relaying: the client's second
// request on the connection is never forwarded.
func TestForwardsBlindlyAndHangs(t *testing.T) {
	seen := make(chan string, 4)
	origin := testnet.Raw(t, func(c net.Conn, _ int) {
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		seen <- head.String()
		io.WriteString(c, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
		time.Sleep(300 * time.Millisecond) // then the origin's idle timeout closes
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{}
	go p.Serve(ln)
	defer ln.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET http://" + origin + "/ HTTP/1.0\r\nHost: " + origin + "\r\nConnection: keep-alive\r\n\r\n"
	io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 200)
	n, _ := io.ReadAtLeast(c, buf, 10)
	if !strings.Contains(string(buf[:n]), "Connection: keep-alive") {
		t.Fatalf("response %q", buf[:n])
	}
	if h := <-seen; !strings.Contains(h, "Connection: keep-alive") || !strings.HasPrefix(h, "GET http://") {
		t.Errorf("origin saw %q: the proxy should forward the head unchanged", h)
	}
	start := time.Now()
	io.WriteString(c, req) // the second request: never forwarded
	// The proxy closes with the second request unread: EOF, or a reset.
	m, err := c.Read(buf)
	if m != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("second request answered: %q %v", buf[:m], err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("closed after %v, before the origin's idle close", d)
	}
	select {
	case h := <-seen:
		t.Errorf("the second request reached the origin: %q", h)
	default:
	}
}

// The origin comes from an absolute-form http target (port 80 when it has none); any
// other target is refused with 400.
func TestTargets(t *testing.T) {
	dialed := make(chan string, 1)
	p := &Proxy{Dial: func(_ context.Context, _, addr string) (net.Conn, error) {
		dialed <- addr
		return nil, errors.New("not dialing")
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	defer ln.Close()
	for _, tc := range []struct {
		target, dial, status string
	}{
		{"http://example.test/a", "example.test:80", "502"},
		{"HTTP://example.test:8080/", "example.test:8080", "502"},
		{"http://[2001:db8::1]:81/", "[2001:db8::1]:81", "502"},
		{"http://192.0.2.80", "192.0.2.80:80", "502"},
		{"/origin-form", "", "400"},
		{"https://example.test/", "", "400"},
		{"http://user@example.test/", "", "400"},
		{"http:///no-host", "", "400"},
	} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET "+tc.target+" HTTP/1.0\r\nHost: example.test\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(b), "HTTP/1.0 "+tc.status+" ") {
			t.Errorf("%s: answered %q, want %s", tc.target, b, tc.status)
		}
		select {
		case addr := <-dialed:
			if addr != tc.dial {
				t.Errorf("%s: dialed %s, want %q", tc.target, addr, tc.dial)
			}
		default:
			if tc.dial != "" {
				t.Errorf("%s: nothing dialed, want %s", tc.target, tc.dial)
			}
		}
	}
}
