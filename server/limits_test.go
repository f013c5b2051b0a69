package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/wire"
)

// Server.Limits reach the request parser (both tighter and looser than the defaults).
func TestServerLimitsApply(t *testing.T) {
	ok := func(w *ResponseWriter, r *Request) { w.WriteString("ok") }
	for _, tt := range []struct {
		name   string
		limits wire.Limits
		req    string
		status string
	}{
		{"request line over a 100-byte limit", wire.Limits{MaxRequestLine: 100},
			"GET /" + strings.Repeat("a", 200) + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
		{"three fields over a limit of 2", wire.Limits{MaxHeaderFields: 2},
			"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", "431"},
		{"80 KiB of fields under a 128 KiB limit", wire.Limits{MaxHeaderBytes: 128 << 10},
			"GET / HTTP/1.1\r\nHost: x\r\nBig: " + strings.Repeat("b", 80<<10) + "\r\n\r\n", "200"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := serveTest(t, ok, func(s *Server) { s.Limits = tt.limits })
			go fmt.Fprint(c, tt.req)
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 "+tt.status) {
				t.Fatalf("status line %q (%v), want %s", line, err, tt.status)
			}
		})
	}
}

// A chunked request's trailer is not visible to the requests after it.
func TestTrailerDoesNotLeakToNextRequest(t *testing.T) {
	c := serveTest(t, func(w *ResponseWriter, r *Request) {
		r.ReadBody(1 << 20)
		w.Write(r.Trailer().Get("X-T"))
	}, nil)
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: secret\r\n\r\n"+
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nb"+
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	got := readResponses(t, bufio.NewReader(c), 3)
	if got[0] != "secret" || got[1] != "" || got[2] != "" {
		t.Fatalf("trailer values seen by three requests: %q", got)
	}
}

// stillServes reads a response, waits, and checks that the connection serves another.
func stillServes(t *testing.T, c net.Conn, br *bufio.Reader) {
	readResponses(t, br, 1)
	time.Sleep(200 * time.Millisecond)
	fmt.Fprint(c, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponses(t, br, 1)
}

// One rule for the settings: zero is the documented default, a negative value none.
// Each row sets one field negative and checks that it means none (where the old
// reading of a negative duration, a deadline in the past, would close at once).
func TestNegativeSettingsMeanNone(t *testing.T) {
	read := func(w *ResponseWriter, r *Request) {
		b, _ := r.ReadBody(1 << 20)
		w.Write(b)
	}
	for _, tt := range []struct {
		name  string
		cfg   func(*Server)
		h     HandlerFunc
		req   string
		check func(t *testing.T, c net.Conn, br *bufio.Reader)
	}{
		{"IdleTimeout: no idle timeout", func(s *Server) { s.IdleTimeout, s.DisablePark = -1, true }, read,
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n", stillServes},
		{"IdleTimeout with parking", func(s *Server) { s.IdleTimeout, s.ParkAfter = -1, -1 }, read,
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n", stillServes},
		{"ReadHeaderTimeout and BodyReadTimeout: none", func(s *Server) { s.ReadHeaderTimeout, s.BodyReadTimeout = -1, -1 }, read,
			"POST / HTTP/1.1\r\nHost: x\r\n", func(t *testing.T, c net.Conn, br *bufio.Reader) {
				time.Sleep(200 * time.Millisecond)
				fmt.Fprint(c, "Content-Length: 2\r\n\r\n")
				time.Sleep(200 * time.Millisecond)
				fmt.Fprint(c, "ok")
				if got := readResponses(t, br, 1)[0]; got != "ok" {
					t.Fatalf("body %q", got)
				}
			}},
		{"WriteTimeout: none", func(s *Server) { s.WriteTimeout = -1 }, read,
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(t *testing.T, c net.Conn, br *bufio.Reader) { readResponses(t, br, 1) }},
		{"MaxBodyDrain: nothing drained", func(s *Server) { s.MaxBodyDrain = -1 },
			func(w *ResponseWriter, r *Request) { w.WriteString("unread") },
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", func(t *testing.T, c net.Conn, br *bufio.Reader) {
				line, _ := br.ReadString('\n')
				head, _ := io.ReadAll(br)
				if !strings.HasPrefix(line, "HTTP/1.1 200") || !strings.Contains(string(head), "Connection: close") {
					t.Fatalf("response %q%q, want a 200 that closes", line, head)
				}
			}},
		{"ResponseBuffer: every write streams", func(s *Server) { s.ResponseBuffer = -1 },
			func(w *ResponseWriter, r *Request) { w.WriteString("tiny") },
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(t *testing.T, c net.Conn, br *bufio.Reader) {
				var p wire.Parser
				var resp wire.Response
				buf := make([]byte, 0, 4096)
				for {
					b, err := br.ReadByte()
					if err != nil {
						t.Fatal(err)
					}
					buf = append(buf, b)
					if _, err := p.ParseResponse(buf, &resp, []byte("GET")); err != wire.ErrNeedMore {
						break
					}
				}
				if resp.Framing != wire.FramingChunked {
					t.Fatalf("framing %v, want chunked", resp.Framing)
				}
			}},
		{"ReadBufferSize: the smallest buffer", func(s *Server) { s.ReadBufferSize = -1 }, read,
			"GET /" + strings.Repeat("p", 3000) + " HTTP/1.1\r\nHost: x\r\n\r\n", func(t *testing.T, c net.Conn, br *bufio.Reader) { readResponses(t, br, 1) }},
		{"LingerTimeout: no lingering", func(s *Server) { s.LingerTimeout = -1 },
			func(w *ResponseWriter, r *Request) { w.CloseAfter() },
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(t *testing.T, c net.Conn, br *bufio.Reader) {
				io.ReadAll(br) // the server closes at once instead of waiting for our FIN
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := serveTest(t, tt.h, tt.cfg)
			fmt.Fprint(c, tt.req)
			tt.check(t, c, bufio.NewReader(c))
		})
	}
}
