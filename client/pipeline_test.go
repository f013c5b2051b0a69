package client

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

func pipelineRequests(t *testing.T, base string, n int, tr *Trace) ([]*Request, []*Response) {
	reqs := make([]*Request, n)
	resps := make([]*Response, n)
	for i := range reqs {
		reqs[i] = &Request{Trace: tr}
		if err := reqs[i].SetURL(base + "/p/" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		resps[i] = &Response{}
	}
	return reqs, resps
}

func checkInOrder(t *testing.T, resps []*Response) {
	t.Helper()
	for i, r := range resps {
		if want := "GET /p/" + strconv.Itoa(i) + " "; string(r.Body) != want {
			t.Fatalf("response %d: %d %q, want %q", i, r.Status, r.Body, want)
		}
	}
}

func TestPipeline(t *testing.T) {
	base := startHop(t, echoConn)
	var mu sync.Mutex
	var events []string
	add := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	tr := &Trace{
		WroteRequest: func(error) { add("w") },
		Done:         func(DoneInfo) { add("d") },
	}
	cl := newClient(t, nil)
	reqs, resps := pipelineRequests(t, base, 10, tr)
	if err := cl.DoPipeline(reqs, resps, 4); err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, resps)
	conns := map[string]bool{}
	for _, r := range resps {
		conns[string(r.Header.Get("X-Conn"))] = true
	}
	if len(conns) != 1 || cl.Stats().NewConns != 1 {
		t.Errorf("used %d server connections, want 1", len(conns))
	}
	// A new connection carries one request until its first response shows HTTP/1.1
	// keep-alive; then the window opens to 4.
	got := strings.Join(events, "")
	if want := "wd" + "wwww" + "d" + "w" + "d" + "w" + "d" + "w" + "d" + "w" + "d" + "w" + "dddd"; got != want {
		t.Errorf("write/done order %s, want %s", got, want)
	}
	// The connection went back to the pool, proven: a second pipeline uses it at full depth.
	events = nil
	reqs, resps = pipelineRequests(t, base, 4, tr)
	if err := cl.DoPipeline(reqs, resps, 4); err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, resps)
	if got := strings.Join(events, ""); got != "wwwwdddd" {
		t.Errorf("on a proven connection: %s, want wwwwdddd", got)
	}
}

// The server closes after every third request (Connection: close on the third
// response): the unanswered requests are re-sent on new connections, in order.
func TestPipelineServerCloses(t *testing.T) {
	base := startHop(t, echoConn, func(s *server.Server) { s.MaxRequestsPerConn = 3 })
	var retries []string
	cl := newClient(t, &Client{Trace: &Trace{Retry: func(n int, err error) {
		var why *RetryReason
		if !errors.As(err, &why) {
			t.Errorf("retry %d: %v is not a *RetryReason", n, err)
			return
		}
		retries = append(retries, fmt.Sprintf("%d:%d/%d:%s:%v", n, why.Answered, why.Pending, why.Closed, why.Err))
	}}})
	reqs, resps := pipelineRequests(t, base, 10, nil)
	if err := cl.DoPipeline(reqs, resps, 8); err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, resps)
	if s := cl.Stats(); s.NewConns != 4 {
		t.Errorf("%d connections, want 4 (3 requests each)", s.NewConns)
	}
	// Each connection answered 3 and could carry no more: the trace says so, with the
	// re-sends counted from 1 (it said "retry 0 ... failed before any response byte").
	want := "1:3/7:server asked to close:<nil> 2:3/4:server asked to close:<nil> 3:3/1:server asked to close:<nil>"
	if got := strings.Join(retries, " "); got != want {
		t.Errorf("retries %q, want %q", got, want)
	}
}

// A server that reads everything pipelined, answers two requests and dies: the rest
// are re-sent on a new connection in order, and the server sees each request at
// most twice.
func TestPipelineConnectionDies(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	url := "http://" + testnet.Raw(t, func(c net.Conn, n int) {
		rr := &reqReader{c: c}
		for i := 0; ; i++ {
			r, err := rr.next(nil)
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, fmt.Sprintf("c%d:%s", n, r.Target))
			mu.Unlock()
			if n == 0 && i == 3 {
				return // the connection dies with requests unanswered
			}
			if n > 0 || i < 2 {
				c.Write([]byte(okResponse("GET " + r.Target + " ")))
			}
		}
	})
	cl := newClient(t, nil)
	reqs, resps := pipelineRequests(t, url, 6, nil)
	// Prove a connection first, so that the pipeline opens at full depth at once.
	get(t, cl, url+"/warm")
	mu.Lock()
	seen = nil
	mu.Unlock()
	if err := cl.DoPipeline(reqs, resps, 6); err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, resps)
	mu.Lock()
	defer mu.Unlock()
	// Connection 0 answered the warm-up and /p/0, then read /p/1 and /p/2 and died;
	// everything from /p/1 on was re-sent on connection 1, in order.
	var resent []string
	for _, s := range seen {
		if strings.HasPrefix(s, "c1:") {
			resent = append(resent, strings.TrimPrefix(s, "c1:"))
		}
	}
	if got := strings.Join(resent, " "); got != "/p/1 /p/2 /p/3 /p/4 /p/5" {
		t.Errorf("re-sent %q, want /p/1../p/5 in order (server saw %v)", got, seen)
	}
}

func TestPipelineRefusesNonIdempotent(t *testing.T) {
	cl := newClient(t, nil)
	reqs, resps := pipelineRequests(t, "http://127.0.0.1:1", 2, nil)
	reqs[1].Method = "POST"
	if err := cl.DoPipeline(reqs, resps, 2); !errors.Is(err, ErrNotIdempotent) {
		t.Fatalf("err = %v", err)
	}
}

func TestPipelineGivesUp(t *testing.T) {
	url := "http://" + testnet.Raw(t, func(c net.Conn, n int) {
		rr := &reqReader{c: c}
		rr.next(nil) // read one request and die
	})
	cl := newClient(t, nil)
	reqs, resps := pipelineRequests(t, url, 3, nil)
	err := cl.DoPipeline(reqs, resps, 3)
	if err == nil {
		t.Fatal("no error from a server that never answers")
	}
	if s := cl.Stats(); s.NewConns != maxPipelineFailures || s.Open != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestPipelineMixedOrigins(t *testing.T) {
	a := startHop(t, echoConn)
	b := startHop(t, echoConn)
	cl := newClient(t, nil)
	var reqs []*Request
	var resps []*Response
	for i, base := range []string{a, a, b, b, a} {
		r := &Request{}
		r.SetURL(base + "/p/" + strconv.Itoa(i))
		reqs = append(reqs, r)
		resps = append(resps, &Response{})
	}
	if err := cl.DoPipeline(reqs, resps, 4); err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, resps)
	if s := cl.Stats(); s.NewConns != 2 || s.Reused != 1 {
		t.Errorf("stats %+v", s)
	}
}

// A response that arrived but cannot be accepted is the server's answer, not a dead
// connection: the request is not re-sent (DESIGN: pipelines are re-sent only when the
// connection dies), so the server sees it exactly once.
func TestPipelineDoesNotResendAnsweredRequest(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		want   func(error) bool
	}{
		{"body over MaxResponseBody", okResponse(strings.Repeat("x", 100)),
			func(err error) bool { return errors.Is(err, ErrBodyTooLarge) }},
		{"malformed head", "HTTP/1.1 200 OK\r\nBad Field: x\r\nContent-Length: 0\r\n\r\n",
			func(err error) bool { var we *wire.Error; return errors.As(err, &we) }},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
			func(err error) bool { return errors.Is(err, ErrUnrequestedUpgrade) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, seen := serveRequests(t, func(r *testRequest) string {
				if r.Target == "/p/1" {
					return tt.answer
				}
				return okResponse("GET " + r.Target + " ")
			})
			cl := newClient(t, &Client{MaxResponseBody: 10})
			reqs, resps := pipelineRequests(t, url, 3, nil)
			err := cl.DoPipeline(reqs, resps, 3)
			if !tt.want(err) {
				t.Fatalf("err = %v", err)
			}
			if string(resps[0].Body) != "GET /p/0 " {
				t.Errorf("response 0: %q", resps[0].Body)
			}
			hits := map[string]int{}
			for _, r := range seen() {
				hits[r.Target]++
			}
			if hits["/p/1"] != 1 {
				t.Errorf("server saw /p/1 %d times, want 1 (all hits: %v)", hits["/p/1"], hits)
			}
			if s := cl.Stats(); s.NewConns != 1 || s.Open != 0 {
				t.Errorf("stats %+v, want one connection, closed", s)
			}
		})
	}
}
