package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// takeOverResult is what a handler saw when it took its connection over.
type takeOverResult struct {
	rest []byte
	err  error
}

// echoTunnel takes the connection over and echoes every byte back until the client
// half-closes, then closes. It reports what TakeOver returned.
func echoTunnel(w *server.ResponseWriter, got chan<- takeOverResult) {
	nc, rest, err := w.TakeOver()
	got <- takeOverResult{rest, err}
	if err != nil {
		w.WriteHeader(400)
		w.WriteString(err.Error())
		return
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(ioWait))
	if len(rest) > 0 {
		nc.Write(rest)
	}
	io.Copy(nc, nc)
}

// A 2xx to CONNECT is sent by TakeOver without framing fields; the bytes the client
// sent right after the CONNECT head (before any response) come back from TakeOver,
// after them the tunnel carries raw bytes both ways, and the server counts and reports
// the connection as taken over and forgets it.
func TestTakeOverConnect(t *testing.T) {
	got := make(chan takeOverResult, 1)
	var mu sync.Mutex
	var states []server.ConnState
	ts := startServer(t, &server.Server{
		Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
			if !r.IsMethod("CONNECT") {
				w.WriteString("plain")
				return
			}
			w.Header().Set("Content-Length", "99") // managed by the server: never sent here
			w.Header().Set("Proxy-Agent", "hop-test")
			w.WriteHeader(200)
			echoTunnel(w, got)
		}),
		ConnState: func(_ server.ConnInfo, st server.ConnState) {
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		},
	})
	c := dial(t, ts.addr)
	// A pipelined GET first: its response must leave before the tunnel starts.
	c.write(get("/first") + head("CONNECT example.test:443 HTTP/1.1", "Host: example.test:443") + "early bytes")
	if r := c.mustResponse("GET"); string(r.Body) != "plain" {
		t.Fatalf("pipelined GET: %s", r)
	}
	r, err := c.readHead("CONNECT")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || r.Header.Has("Content-Length") || r.Header.Has("Transfer-Encoding") ||
		r.Header.Has("Connection") || r.get("Proxy-Agent") != "hop-test" {
		t.Fatalf("CONNECT response head: %s %v", r, &r.Header)
	}
	res := waitFor(t, got, "TakeOver")
	if res.err != nil || string(res.rest) != "early bytes" {
		t.Fatalf("TakeOver returned %q, %v; want the early bytes", res.rest, res.err)
	}
	c.write("\x16\x03\x01 not HTTP\r\n\r\n")
	want := "early bytes\x16\x03\x01 not HTTP\r\n\r\n"
	for len(c.buf) < len(want) {
		if err := c.fill(); err != nil {
			t.Fatalf("tunnel echo after %q: %v", c.buf, err)
		}
	}
	if string(c.buf) != want {
		t.Fatalf("tunnel echoed %q, want %q", c.buf, want)
	}
	c.buf = nil
	st := ts.Stats()
	if st.TakenOver != 1 || st.Active+st.Idle+st.New != 0 {
		t.Errorf("Stats after TakeOver: %+v", st)
	}
	// Shutdown neither waits for nor closes a taken-over connection.
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a tunnel open: %v", err)
	}
	c.write("still here")
	for len(c.buf) < len("still here") {
		if err := c.fill(); err != nil {
			t.Fatalf("tunnel after Shutdown: %v", err)
		}
	}
	c.nc.(*net.TCPConn).CloseWrite()
	c.buf = nil
	if err := c.closeState(ioWait); err != nil {
		t.Fatalf("tunnel end: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(states); n == 0 || states[n-1] != server.StateTakenOver {
		t.Fatalf("ConnState saw %v, want it to end with taken over", states)
	}
}

// A 101 goes out through TakeOver with Connection: upgrade and the handler's Upgrade
// field, only to an HTTP/1.1 request that asked to upgrade.
func TestTakeOverUpgrade(t *testing.T) {
	got := make(chan takeOverResult, 1)
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.WriteHeader(101)
		if string(r.Path()) != "/noupgradefield" {
			w.Header().Set("Upgrade", "echo")
		}
		echoTunnel(w, got)
	})})

	c := dial(t, ts.addr)
	c.write(head("GET / HTTP/1.1", "Host: test", "Connection: Upgrade", "Upgrade: echo") + "hello")
	r, err := c.readHead("GET")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 101 || !r.Header.HasToken("Connection", "upgrade") || r.get("Upgrade") != "echo" ||
		r.Header.Has("Content-Length") || r.Header.Has("Transfer-Encoding") {
		t.Fatalf("101 head: %s %v", r, &r.Header)
	}
	if res := waitFor(t, got, "TakeOver"); res.err != nil || string(res.rest) != "hello" {
		t.Fatalf("TakeOver: %q, %v", res.rest, res.err)
	}
	for len(c.buf) < 5 {
		if err := c.fill(); err != nil {
			t.Fatal(err)
		}
	}
	if string(c.buf) != "hello" {
		t.Fatalf("echo %q", c.buf)
	}

	for _, tt := range []struct{ name, req string }{
		{"HTTP/1.0", head("GET / HTTP/1.0", "Connection: Upgrade", "Upgrade: echo")},
		{"no Connection: upgrade", head("GET / HTTP/1.1", "Host: test", "Upgrade: echo")},
		{"no Upgrade field in the response", head("GET /noupgradefield HTTP/1.1", "Host: test", "Connection: Upgrade", "Upgrade: echo")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			c.write(tt.req)
			res := waitFor(t, got, "TakeOver")
			if !errors.Is(res.err, server.ErrCannotTakeOver) {
				t.Fatalf("TakeOver error %v, want ErrCannotTakeOver", res.err)
			}
			if r := c.mustResponse("GET"); r.Status != 400 || !strings.Contains(string(r.Body), "101") {
				t.Fatalf("response %s, want the handler's 400 naming the 101", r)
			}
		})
	}
}

// TakeOver without a status writes nothing of its own (the handler speaks first), after
// the responses already pending; a second TakeOver fails.
func TestTakeOverRaw(t *testing.T) {
	second := make(chan error, 1)
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if string(r.Path()) != "/raw" {
			w.WriteString("before")
			return
		}
		nc, _, err := w.TakeOver()
		if err != nil {
			t.Errorf("TakeOver: %v", err)
			return
		}
		_, _, err = w.TakeOver()
		second <- err
		nc.Write([]byte("RAW PROTOCOL\n"))
		nc.Close()
	})})
	c := dial(t, ts.addr)
	c.write(get("/a") + get("/raw"))
	if r := c.mustResponse("GET"); string(r.Body) != "before" {
		t.Fatalf("first response %s", r)
	}
	if err := waitFor(t, second, "second TakeOver"); !errors.Is(err, server.ErrTakenOver) {
		t.Fatalf("second TakeOver: %v", err)
	}
	body, err := io.ReadAll(io.MultiReader(strings.NewReader(string(c.buf)), c.nc))
	if err != nil || string(body) != "RAW PROTOCOL\n" {
		t.Fatalf("after the first response: %q, %v", body, err)
	}
}

// TakeOver refuses once the response has started or a status that does not switch
// protocols is set; the handler's response then goes out as usual.
func TestTakeOverRefused(t *testing.T) {
	got := make(chan error, 1)
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		switch string(r.Path()) {
		case "/written":
			w.WriteString("body ")
		case "/flushed":
			w.WriteString("body ")
			w.Flush()
		case "/status":
			w.WriteHeader(200)
		}
		_, _, err := w.TakeOver()
		got <- err
		w.WriteString("kept")
	})})
	for _, path := range []string{"/written", "/flushed", "/status"} {
		c := dial(t, ts.addr)
		r := c.roundTrip("GET", get(path))
		if err := waitFor(t, got, "TakeOver"); !errors.Is(err, server.ErrCannotTakeOver) {
			t.Errorf("%s: TakeOver error %v", path, err)
		}
		if r.Status != 200 || !strings.HasSuffix(string(r.Body), "kept") {
			t.Errorf("%s: response %s", path, r)
		}
	}
}

// A CONNECT whose handler does not take the connection over never gets a 2xx: the
// server answers 501 and closes. A handler's own non-2xx answer to CONNECT (a 407 for
// a proxy) goes out as written.
func TestConnectWithoutTakeOver(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		if string(r.Target) == "auth.test:443" {
			w.Header().Set("Proxy-Authenticate", `Basic realm="hop"`)
			w.WriteHeader(407)
			return
		}
		if _, err := w.WriteString("OK"); err != nil && !errors.Is(err, server.ErrNeedsTakeOver) {
			t.Errorf("write: %v", err)
		}
		w.Flush() // a 2xx to CONNECT cannot be committed without TakeOver
	})})
	c := dial(t, ts.addr)
	r := c.roundTrip("CONNECT", head("CONNECT example.test:443 HTTP/1.1", "Host: example.test:443")+"tunnel?")
	if r.Status != 501 || !r.closes() {
		t.Fatalf("CONNECT nobody tunnels: %s, want 501 and close", r)
	}
	c.expectClosed()
	if n := ts.Stats().Rejected[501]; n != 1 {
		t.Errorf("Stats().Rejected[501] = %d", n)
	}

	c = dial(t, ts.addr)
	r = c.roundTrip("CONNECT", head("CONNECT auth.test:443 HTTP/1.1", "Host: auth.test:443"))
	if r.Status != 407 || r.get("Proxy-Authenticate") == "" {
		t.Fatalf("CONNECT answered 407: %s", r)
	}
}

// A handler that returns after WriteHeader(101) without TakeOver gets a 500: a 101
// cannot be a response on a connection that stays HTTP.
func TestSwitchingWithoutTakeOver(t *testing.T) {
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Upgrade", "echo")
		w.WriteHeader(101)
	})})
	c := dial(t, ts.addr)
	r := c.roundTrip("GET", head("GET / HTTP/1.1", "Host: test", "Connection: upgrade", "Upgrade: echo"))
	if r.Status != 500 || !r.closes() {
		t.Fatalf("response %s, want 500 and close", r)
	}
}

// The net/http adapter's Hijack is TakeOver: the bytes the client sent after the head
// are in the returned reader's buffer, and writes after it fail with ErrHijacked.
func TestFromHTTPHijack(t *testing.T) {
	writeErr := make(chan error, 1)
	ts := startServer(t, &server.Server{Handler: server.FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer nc.Close()
		_, werr := w.Write([]byte("x"))
		writeErr <- werr
		n := brw.Reader.Buffered()
		line, _ := brw.ReadString('\n')
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: line\r\nConnection: upgrade\r\n\r\n")
		brw.WriteString(strings.ToUpper(line))
		brw.WriteString(strings.Repeat("b", n) + "\n")
		brw.Flush()
	}))})
	c := dial(t, ts.addr)
	c.write(head("GET / HTTP/1.1", "Host: test", "Connection: upgrade", "Upgrade: line") + "first line\n")
	r, err := c.readHead("GET")
	if err != nil || r.Status != 101 {
		t.Fatalf("head %v, %v", r, err)
	}
	br := bufio.NewReader(io.MultiReader(strings.NewReader(string(c.buf)), c.nc))
	line, _ := br.ReadString('\n')
	buffered, _ := br.ReadString('\n')
	if line != "FIRST LINE\n" || buffered != strings.Repeat("b", len("first line\n"))+"\n" {
		t.Fatalf("after the 101: %q %q", line, buffered)
	}
	if err := waitFor(t, writeErr, "write after Hijack"); !errors.Is(err, http.ErrHijacked) {
		t.Fatalf("Write after Hijack: %v", err)
	}
}

// The head written by TakeOver is parsed by wire as a response without a body for
// CONNECT (the client side of the same codec agrees).
func TestTakeOverHeadParses(t *testing.T) {
	got := make(chan takeOverResult, 1)
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.WriteHeader(200)
		echoTunnel(w, got)
	})})
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(ioWait))
	io.WriteString(nc, head("CONNECT example.test:443 HTTP/1.1", "Host: example.test:443"))
	buf := make([]byte, 4096)
	n := 0
	var p wire.Parser
	var resp wire.Response
	for {
		m, err := nc.Read(buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += m
		if _, err := p.ParseResponse(buf[:n], &resp, []byte("CONNECT")); err != wire.ErrNeedMore {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if resp.Status != 200 || resp.Framing != wire.FramingNone {
		t.Fatalf("CONNECT 200 framing %v", resp.Framing)
	}
}

// The zero-copy body ReadBody returns stays valid while the handler runs, also when
// bytes arriving after it are read into the same buffer (Context's watch, TakeOver):
// a byte sent after the body was written over the body's first ("hello" became
// "Zello").
func TestReadBodyKeptAcrossTakeOver(t *testing.T) {
	got := make(chan string, 1)
	arrived := make(chan struct{})
	ts := startServer(t, &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		body, err := r.ReadBody(100)
		before := string(body)
		_ = r.Context() // watches the connection: reads what follows into the buffer
		<-arrived
		time.Sleep(50 * time.Millisecond) // let the watch read it
		nc, rest, terr := w.TakeOver()
		got <- fmt.Sprintf("%q %q %q %v %v", before, body, rest, err, terr)
		if nc != nil {
			nc.Close()
		}
	})})
	c := dial(t, ts.addr)
	c.write(head("POST / HTTP/1.1", "Host: test", "Content-Length: 5") + "hello")
	time.Sleep(50 * time.Millisecond)
	c.write("Z")
	close(arrived)
	if s := waitFor(t, got, "the handler"); s != `"hello" "hello" "Z" <nil> <nil>` {
		t.Errorf("before, after TakeOver, rest, errors: %s", s)
	}
}
