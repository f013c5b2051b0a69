package server

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hop-http/hop/wire"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readResponses reads n responses with Content-Length bodies and returns the bodies;
// heads are parsed with wire, the codec under test.
func readResponses(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var bodies []string
	for i := 0; i < n; i++ {
		var head []byte
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				t.Fatalf("response %d head: %v", i, err)
			}
			head = append(head, line...)
			if string(line) == "\r\n" {
				break
			}
		}
		var p wire.Parser
		var r wire.Response
		if _, err := p.ParseResponse(head, &r, []byte("GET")); err != nil || r.Status != 200 {
			t.Fatalf("response %d: status %d, %v\n%s", i, r.Status, err, head)
		}
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(body))
	}
	return bodies
}

// serveTest starts a server with handler h (and optional settings) on 127.0.0.1 and
// returns a connection to it with a 10 s deadline.
func serveTest(t *testing.T, h HandlerFunc, cfg func(*Server)) net.Conn {
	t.Helper()
	s := &Server{Handler: h}
	if cfg != nil {
		cfg(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}
