package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hop-http/hop/internal/testcert"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

func portNum(t testing.TB, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// TestConnectTLS: CONNECT to a local TLS server, then TLS and two requests inside the
// tunnel; the proxy sees only the encrypted bytes.
func TestConnectTLS(t *testing.T) {
	cert := testcert.New(t)
	origin := serveWith(t, &server.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert.TLS}},
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			w.WriteString("secret " + string(r.Path()))
		}),
	})
	addr, _ := forwardProxy(t, func(p *Proxy, _ *Transport) { p.ConnectPorts = []int{portNum(t, origin)} })
	c := dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "CONNECT "+origin+" HTTP/1.1\r\nHost: "+origin+"\r\nProxy-Connection: keep-alive\r\n\r\n")
	head := readRawHead(t, br)
	if !strings.HasPrefix(head, "HTTP/1.1 200 ") || strings.Contains(head, "Content-Length") || strings.Contains(head, "Transfer-Encoding") {
		t.Fatalf("CONNECT answer:\n%s", head)
	}
	if br.Buffered() != 0 {
		t.Fatal("bytes after the 200 before TLS started")
	}
	tc := tls.Client(c, &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"})
	tbr := bufio.NewReader(tc)
	for _, path := range []string{"/one", "/two"} {
		io.WriteString(tc, "GET "+path+" HTTP/1.1\r\nHost: "+origin+"\r\n\r\n")
		resp, err := http.ReadResponse(tbr, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "secret "+path {
			t.Errorf("%s inside the tunnel: %d %q", path, resp.StatusCode, body)
		}
	}
}

// TestConnectEarlyBytes: bytes sent right behind the CONNECT head (before the 200)
// reach the target first, and a half-close crosses the tunnel.
func TestConnectEarlyBytes(t *testing.T) {
	echo := testnet.Raw(t, func(c net.Conn, _ int) {
		b, _ := io.ReadAll(c)
		c.Write(append([]byte("echo:"), b...))
	})
	addr, _ := forwardProxy(t, func(p *Proxy, _ *Transport) { p.ConnectPorts = []int{portNum(t, echo)} })
	c := dial(t, addr)
	io.WriteString(c, "CONNECT "+echo+" HTTP/1.1\r\nHost: "+echo+"\r\n\r\nearly")
	br := bufio.NewReader(c)
	readRawHead(t, br)
	io.WriteString(c, "+late")
	c.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "echo:early+late" {
		t.Errorf("through the tunnel: %q, %v", rest, err)
	}
}

func TestConnectRefusals(t *testing.T) {
	dead := closedPort(t)
	addr, _ := forwardProxy(t, func(p *Proxy, _ *Transport) { p.ConnectPorts = []int{portNum(t, dead)} })
	// A port outside --connect-ports (default 443 only applies when the list is empty).
	resp, _ := get(t, addr, "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n")
	if resp.StatusCode != 403 {
		t.Errorf("CONNECT to a port not allowed: %d", resp.StatusCode)
	}
	resp, _ = get(t, addr, "CONNECT "+dead+" HTTP/1.1\r\nHost: "+dead+"\r\n\r\n")
	if resp.StatusCode != 502 || resp.Header.Get("Proxy-Status") != "hop-test; error=connection_refused" {
		t.Errorf("CONNECT to a closed port: %d %q", resp.StatusCode, resp.Header.Get("Proxy-Status"))
	}
	def, _ := forwardProxy(t, nil)
	resp, _ = get(t, def, "CONNECT "+dead+" HTTP/1.1\r\nHost: "+dead+"\r\n\r\n")
	if resp.StatusCode != 403 {
		t.Errorf("default policy (443 only): %d", resp.StatusCode)
	}
	rev, _ := reverseProxy(t, nil, "http://"+dead)
	resp, _ = get(t, rev, "CONNECT "+dead+" HTTP/1.1\r\nHost: "+dead+"\r\n\r\n")
	if resp.StatusCode != 405 {
		t.Errorf("CONNECT to a reverse proxy: %d", resp.StatusCode)
	}
}

func TestConnectNeedsAuth(t *testing.T) {
	echo := testnet.Raw(t, func(c net.Conn, _ int) { io.Copy(c, c) })
	addr, _ := forwardProxy(t, func(p *Proxy, _ *Transport) {
		p.ConnectPorts = []int{portNum(t, echo)}
		p.Auth = "u:p"
	})
	resp, _ := get(t, addr, "CONNECT "+echo+" HTTP/1.1\r\nHost: "+echo+"\r\n\r\n")
	if resp.StatusCode != 407 {
		t.Errorf("CONNECT without credentials: %d", resp.StatusCode)
	}
	c := dial(t, addr)
	io.WriteString(c, "CONNECT "+echo+" HTTP/1.1\r\nHost: "+echo+"\r\nProxy-Authorization: Basic dTpw\r\n\r\n")
	br := bufio.NewReader(c)
	if h := readRawHead(t, br); !strings.HasPrefix(h, "HTTP/1.1 200 ") {
		t.Fatalf("with credentials:\n%s", h)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Errorf("echo %q %v", buf, err)
	}
}
