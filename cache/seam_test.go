package cache_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store/memory"
	"github.com/hop-http/hop/proxy"
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
