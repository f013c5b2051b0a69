package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/hop-http/hop/server"
)

// wsOrigin switches protocols on requests that ask to (Upgrade: websocket) and then
// echoes every byte until the client half-closes.
func wsOrigin(t testing.TB) string {
	return serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if !r.Upgrade || !strings.EqualFold(string(r.Header.Get("Upgrade")), "websocket") {
			w.WriteHeader(426)
			return
		}
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
		w.WriteHeader(101)
		c, rest, err := w.TakeOver()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, io.MultiReader(bytes.NewReader(rest), c))
	}))
}

// TestUpgradeEcho: a WebSocket-style upgrade through the proxy (both modes) turns
// into a tunnel: the client gets the 101 with Upgrade and Connection: upgrade, then
// bytes go both ways, those sent with the request head included, until a half-close.
func TestUpgradeEcho(t *testing.T) {
	origin := wsOrigin(t)
	for _, mode := range []string{"forward", "reverse"} {
		t.Run(mode, func(t *testing.T) {
			addr, target := proxyFor(t, mode, origin, "/chat")
			c := dial(t, addr)
			br := bufio.NewReader(c)
			io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nfirst;")
			head := readRawHead(t, br)
			if !strings.HasPrefix(head, "HTTP/1.1 101 ") || !strings.Contains(head, "\r\nUpgrade: websocket\r\n") ||
				!strings.Contains(strings.ToLower(head), "\r\nconnection: upgrade\r\n") ||
				!strings.Contains(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") {
				t.Fatalf("upgrade answer:\n%s", head)
			}
			for _, msg := range []string{"ping;", strings.Repeat("w", 100000)} {
				io.WriteString(c, msg)
			}
			c.(*net.TCPConn).CloseWrite()
			echoed, err := io.ReadAll(br)
			want := "first;ping;" + strings.Repeat("w", 100000)
			if err != nil || string(echoed) != want {
				t.Errorf("echo: %d bytes (%v), want %d", len(echoed), err, len(want))
			}
		})
	}
}

// TestUpgradeRefused: an origin that does not switch answers normally, and the
// connection stays HTTP.
func TestUpgradeRefused(t *testing.T) {
	origin := wsOrigin(t)
	addr, _ := reverseProxy(t, nil, "http://"+origin)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	resp, _ := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	if resp.StatusCode != 426 {
		t.Errorf("status %d", resp.StatusCode)
	}
	resp, _ = roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 426 {
		t.Errorf("after: %d", resp.StatusCode)
	}
}

// TestEarlyHintsForwarded: a 103 from the origin reaches the client before the final
// response, with its Link field, which does not leak into the final response.
func TestEarlyHintsForwarded(t *testing.T) {
	var o rawOrigin
	origin := o.start(t, func(int, string) string {
		return "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nConnection: x-hop\r\nX-Hop: 1\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	addr, _ := forwardProxy(t, nil)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET http://"+origin+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	interim := readRawHead(t, br)
	if !strings.HasPrefix(interim, "HTTP/1.1 103 ") || !strings.Contains(interim, "\r\nLink: </style.css>; rel=preload\r\n") ||
		strings.Contains(interim, "X-Hop") {
		t.Errorf("interim response:\n%s", interim)
	}
	resp, body := readResponse(t, br, "GET")
	if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("Link") != "" {
		t.Errorf("final: %d %q Link %q", resp.StatusCode, body, resp.Header.Get("Link"))
	}
}

// TestRequestTrailersForwarded: the trailer of a chunked request reaches the origin.
func TestRequestTrailersForwarded(t *testing.T) {
	var mu sync.Mutex
	var gotBody, gotTrailer string
	origin := serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		b, _ := io.ReadAll(r.Body())
		mu.Lock()
		gotBody, gotTrailer = string(b), string(r.Trailer().Get("X-Digest"))
		mu.Unlock()
	}))
	addr, _ := forwardProxy(t, nil)
	resp, _ := get(t, addr, "POST http://"+origin+"/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Digest\r\n\r\n"+
		"4\r\ndata\r\n0\r\nX-Digest: d1\r\n\r\n")
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 200 || gotBody != "data" || gotTrailer != "d1" {
		t.Errorf("%d: origin got body %q trailer %q", resp.StatusCode, gotBody, gotTrailer)
	}
}
