package server

import (
	"bufio"
	"fmt"
	"strings"
	"testing"

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
