package server

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
)

// Regression: a handler that calls Context() and leaves the body unread must not let
// the post-handler drain start a background read that steals the next request's bytes.
func TestContextWatchDoesNotStealNextRequest(t *testing.T) {
	c := serveTest(t, func(w *ResponseWriter, r *Request) {
		_ = r.Context()
		w.Write(r.Method)
	}, nil)
	br := bufio.NewReader(c)
	body := strings.Repeat("p", 1201)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(c, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		if got := readResponses(t, br, 1)[0]; got != "POST" {
			t.Fatalf("iteration %d: POST answered as %q", i, got)
		}
		fmt.Fprint(c, "GET /g HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := readResponses(t, br, 1)[0]; got != "GET" {
			t.Fatalf("iteration %d: GET parsed as method %q", i, got)
		}
	}
}
