package cache_test

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/memory"
	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/httpdate"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// fakeClock is the cache's clock, and the origin's Date: tests move it forward
// instead of sleeping.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// seen is one request as the origin received it.
type seen struct {
	method, target string
	header         wire.Header
}

// answer is what the origin sends for one request.
type answer struct {
	status int
	fields []string // "Name: value"; values may use {now}, {now+N}, {now-N} (seconds)
	body   string
	// cut, when set, sends the head with the full Content-Length but only half the
	// body, then closes the connection.
	cut bool
	// fn, when set, handles the request instead.
	fn func(w *server.ResponseWriter, r *server.Request)
}

// env is an origin, a reverse proxy with a cache in front of it, and a client.
type env struct {
	t      *testing.T
	clock  *fakeClock
	cache  *cache.Cache
	store  store.Store
	proxy  string // http://127.0.0.1:port
	origin string // 127.0.0.1:port
	bal    *proxy.Balancer

	mu   sync.Mutex
	next answer
	reqs []seen

	hc *http.Client
}

// newEnv starts the origin and the caching reverse proxy over st (memory when nil).
func newEnv(t *testing.T, st store.Store, configure ...func(c *cache.Cache)) *env {
	t.Helper()
	e := &env{t: t, clock: &fakeClock{}}
	e.clock.ns.Store(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	e.origin = testnet.Serve(t, server.HandlerFunc(e.serveOrigin))
	if st == nil {
		st = memory.New(memory.Options{MaxBytes: 64 << 20})
		t.Cleanup(func() { st.Close() })
	}
	e.store = st
	bal, err := proxy.NewBalancer(proxy.RoundRobin, "http://"+e.origin)
	if err != nil {
		t.Fatal(err)
	}
	e.bal = bal
	e.proxy, e.cache = e.newProxy(st, configure...)
	e.hc = &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(e.hc.CloseIdleConnections)
	return e
}

// newProxy starts another caching reverse proxy in front of e's origin, over st:
// several of them over one store stand for several processes sharing it.
func (e *env) newProxy(st store.Store, configure ...func(c *cache.Cache)) (string, *cache.Cache) {
	t := e.t
	cl := &client.Client{ConnectTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	t.Cleanup(func() { cl.Close() })
	c := &cache.Cache{
		Store:  st,
		Next:   &proxy.Transport{Client: cl, Upstreams: e.bal},
		Now:    e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range configure {
		f(c)
	}
	t.Cleanup(func() { c.Close() })
	return "http://" + testnet.Serve(t, &proxy.Proxy{Exchanger: c, Reverse: true, Name: "hop-test"}), c
}

// expand replaces {now}, {now+N} and {now-N} with HTTP-dates of the fake clock.
func (e *env) expand(v string) string {
	for {
		i := strings.Index(v, "{now")
		if i < 0 {
			return v
		}
		j := strings.IndexByte(v[i:], '}') + i
		off := 0
		if j > i+4 {
			off, _ = strconv.Atoi(v[i+4 : j])
		}
		d := string(httpdate.Append(nil, e.clock.Now().Add(time.Duration(off)*time.Second)))
		v = v[:i] + d + v[j+1:]
	}
}

func (e *env) serveOrigin(w *server.ResponseWriter, r *server.Request) {
	e.mu.Lock()
	var s seen
	s.method, s.target = string(r.Method), string(r.Target)
	s.header.CopyFrom(&r.Header)
	e.reqs = append(e.reqs, s)
	a := e.next
	e.mu.Unlock()
	if a.fn != nil {
		a.fn(w, r)
		return
	}
	h := w.Header()
	h.Set("Date", e.expand("{now}"))
	for _, f := range a.fields {
		name, value, _ := strings.Cut(f, ":")
		if strings.EqualFold(name, "Date") {
			h.Del("Date")
		}
		h.Add(name, e.expand(strings.TrimSpace(value)))
	}
	if a.status != 0 {
		w.WriteHeader(a.status)
	}
	if a.cut {
		w.SetContentLength(int64(len(a.body)))
		w.Write([]byte(a.body[:len(a.body)/2]))
		w.Flush()
		panic(server.ErrAbortHandler)
	}
	if a.body != "" {
		w.Write([]byte(a.body))
	}
}

// originCount returns the number of requests the origin received.
func (e *env) originCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.reqs)
}

// lastSeen returns the last request the origin received.
func (e *env) lastSeen() seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.reqs) == 0 {
		return seen{}
	}
	return e.reqs[len(e.reqs)-1]
}

// result is what the client got.
type result struct {
	status int
	header http.Header
	body   string
	err    error
}

// do sends a request through the proxy; the origin answers a if it is reached.
func (e *env) do(method, path string, a answer, fields ...string) result {
	e.t.Helper()
	return e.doVia(e.proxy, method, path, a, fields...)
}

// doVia is do through the proxy at base (see newProxy).
func (e *env) doVia(base, method, path string, a answer, fields ...string) result {
	e.t.Helper()
	e.mu.Lock()
	e.next = a
	e.mu.Unlock()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		if strings.EqualFold(name, "Host") {
			req.Host = strings.TrimSpace(value)
			continue
		}
		req.Header.Add(name, strings.TrimSpace(e.expand(value)))
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}
