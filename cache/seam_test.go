package cache_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store/memory"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// exchangeOnce sends one GET for u through c, as the proxy would, and returns the
// status, the Cache-Status and the body.
func exchangeOnce(t *testing.T, c *cache.Cache, u string) (int, string, string) {
	t.Helper()
	x := new(proxy.Exchange)
	x.Req.Method = "GET"
	if err := x.Req.URL.Set(u); err != nil {
		t.Fatal(err)
	}
	if err := c.Exchange(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	var body []byte
	if x.Body != nil {
		var err error
		if body, err = io.ReadAll(x.Body); err != nil {
			t.Fatal(err)
		}
		x.Body.Close()
	}
	return x.Resp.Status, string(x.Resp.Header.Get("Cache-Status")), string(body)
}

// TestNilBody304: the Exchanger contract allows a nil Body for a response without
// one; a 304 so answered freshens the stored response (no panic).
func TestNilBody304(t *testing.T) {
	n := 0
	next := proxy.ExchangerFunc(func(ctx context.Context, x *proxy.Exchange) error {
		n++
		r := &x.Resp
		r.Major, r.Minor = 1, 1
		if n == 1 {
			r.Status = 200
			r.Header.Add("Cache-Control", "max-age=0")
			r.Header.Add("ETag", `"a"`)
			r.Framing, r.ContentLength = wire.FramingLength, 4
			x.Body = io.NopCloser(strings.NewReader("body"))
			return nil
		}
		r.Status = 304
		r.Header.Add("ETag", `"a"`)
		r.Header.Add("Cache-Control", "max-age=60")
		r.Framing = wire.FramingNone
		x.Body = nil
		return nil
	})
	st := memory.New(memory.Options{})
	defer st.Close()
	c := &cache.Cache{Store: st, Next: next}
	defer c.Close()
	if s, _, b := exchangeOnce(t, c, "http://o.test/r"); s != 200 || b != "body" {
		t.Fatalf("first: %d %q", s, b)
	}
	s, cs, b := exchangeOnce(t, c, "http://o.test/r")
	if s != 200 || b != "body" || !strings.Contains(cs, "fwd-status=304") {
		t.Fatalf("validated: %d %q %q", s, cs, b)
	}
	if s, cs, _ := exchangeOnce(t, c, "http://o.test/r"); s != 200 || !strings.Contains(cs, "hit") || n != 2 {
		t.Fatalf("after the 304: %d %q, %d origin requests", s, cs, n)
	}
}

// TestUpgradePassesThrough: a request that asks to upgrade the connection (WebSocket)
// goes to the origin even when its URL has a fresh stored response, and the 101
// becomes a tunnel.
func TestUpgradePassesThrough(t *testing.T) {
	e := newEnv(t, nil)
	a := answer{fn: func(w *server.ResponseWriter, r *server.Request) {
		if !r.Upgrade {
			w.Header().Set("Cache-Control", "max-age=600")
			w.WriteString("the page")
			return
		}
		w.Header().Set("Upgrade", "websocket")
		w.WriteHeader(101)
		c, rest, err := w.TakeOver()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, io.MultiReader(bytes.NewReader(rest), c))
	}}
	if r := e.do("GET", "/ws", a); r.body != "the page" {
		t.Fatalf("page: %q %v", r.body, r.err)
	}
	if r := e.do("GET", "/ws", a); !strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Fatalf("page not stored: %q", r.header.Get("Cache-Status"))
	}
	host := strings.TrimPrefix(e.proxy, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: "+host+"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade answered %q, want 101 from the origin", line)
	}
	for l := ""; l != "\r\n"; {
		if l, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(c, "echo me")
	c.(*net.TCPConn).CloseWrite()
	if got, _ := io.ReadAll(br); string(got) != "echo me" {
		t.Errorf("tunnel echoed %q", got)
	}
	if n := e.originCount(); n != 2 {
		t.Errorf("origin saw %d requests, want 2 (the page, the upgrade)", n)
	}
}

// TestTooLargeCounted: a storable response whose body is over MaxObject, or over the
// store's bound on an entry, is not stored and is counted.
func TestTooLargeCounted(t *testing.T) {
	next := proxy.ExchangerFunc(func(ctx context.Context, x *proxy.Exchange) error {
		r := &x.Resp
		r.Major, r.Minor, r.Status = 1, 1, 200
		r.Header.Add("Cache-Control", "max-age=60")
		r.Framing, r.ContentLength = wire.FramingLength, 100
		x.Body = io.NopCloser(strings.NewReader(strings.Repeat("b", 100)))
		return nil
	})
	st := memory.New(memory.Options{MaxEntry: 150})
	defer st.Close()
	c := &cache.Cache{Store: st, Next: next, MaxObject: 50}
	defer c.Close()
	exchangeOnce(t, c, "http://o.test/over-max-object")
	c2 := &cache.Cache{Store: st, Next: next}
	defer c2.Close()
	exchangeOnce(t, c2, "http://o.test/over-the-store") // 100 bytes of body + the head > 150
	if n := c.Stats().TooLarge + c2.Stats().TooLarge; n != 2 {
		t.Errorf("TooLarge %d, want 2", n)
	}
	if _, cs, _ := exchangeOnce(t, c2, "http://o.test/over-the-store"); strings.Contains(cs, "hit") {
		t.Errorf("stored anyway: %q", cs)
	}
}
