package cache_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/disk"
	"github.com/hop-http/hop/cache/store/memory"
	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/server"
)

// An origin that closes mid-body: the client sees an aborted message, nothing is
// stored, and the next client goes upstream.
func TestTruncatedNotStored(t *testing.T) {
	e := newEnv(t, nil)
	cut := answer{status: 200, fields: []string{"Cache-Control: max-age=600"}, body: strings.Repeat("x", 100<<10), cut: true}
	r := e.do("GET", "/t", cut)
	if r.err == nil && len(r.body) == 100<<10 {
		t.Fatal("truncated upstream body reached the client complete")
	}
	full := answer{status: 200, fields: []string{"Cache-Control: max-age=600"}, body: "whole"}
	if r := e.do("GET", "/t", full); r.body != "whole" || e.originCount() != 2 {
		t.Fatalf("after truncation: body %q, origin %d requests (want the origin asked again)", r.body, e.originCount())
	}
	if r := e.do("GET", "/t", full); r.body != "whole" || e.originCount() != 2 || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Fatalf("complete body not stored: origin %d, Cache-Status %q", e.originCount(), r.header.Get("Cache-Status"))
	}
}

// blockingOrigin answers after release is closed, counting requests.
func blockingOrigin(n *atomic.Int64, release chan struct{}, cc, body string) func(w *server.ResponseWriter, r *server.Request) {
	return func(w *server.ResponseWriter, r *server.Request) {
		n.Add(1)
		<-release
		w.Header().Set("Cache-Control", cc)
		w.Write([]byte(body))
	}
}

// concurrent sends n GETs at once and returns their results.
func concurrent(e *env, n int, path string, a answer) []result {
	out := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = e.do("GET", path, a) }()
	}
	wg.Wait()
	return out
}

func TestCoalescing(t *testing.T) {
	body := strings.Repeat("0123456789", 10<<10) // 100 KiB
	for _, tc := range []struct {
		name     string
		spoolMax int64
		cc       string
		clients  int
		origins  func(got int64) bool
	}{
		{"streamed from the spool", 0, "max-age=600", 50, func(n int64) bool { return n == 1 }},
		{"read from the store after commit", 1 << 10, "max-age=600", 20, func(n int64) bool { return n == 1 }},
		{"non-cacheable answer releases the others", 0, "no-store", 10, func(n int64) bool { return n == 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, func(c *cache.Cache) { c.SpoolMax = tc.spoolMax })
			var n atomic.Int64
			release := make(chan struct{})
			a := answer{fn: blockingOrigin(&n, release, tc.cc, body)}
			done := make(chan []result)
			go func() { done <- concurrent(e, tc.clients, "/c", a) }()
			testnet.WaitFor(t, "the first request at the origin", func() bool { return n.Load() >= 1 })
			time.Sleep(100 * time.Millisecond) // let the others queue behind it
			close(release)
			res := <-done
			for i, r := range res {
				if r.err != nil || r.status != 200 || r.body != body {
					t.Fatalf("client %d: %v, status %d, %d bytes", i, r.err, r.status, len(r.body))
				}
			}
			if got := n.Load(); !tc.origins(got) {
				t.Errorf("origin requests = %d", got)
			}
		})
	}
}

// lockingStore is a store shared by several caches, as Redis is by several hop
// proxy processes, with the leases of store.Locker.
type lockingStore struct {
	store.Store
	mu     sync.Mutex
	held   map[store.Key]bool
	leases int
}

func (s *lockingStore) TryLock(_ context.Context, k store.Key) (func(), bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[k] {
		return nil, false, nil
	}
	if s.held == nil {
		s.held = map[store.Key]bool{}
	}
	s.held[k] = true
	s.leases++
	return func() {
		s.mu.Lock()
		delete(s.held, k)
		s.mu.Unlock()
	}, true, nil
}

// Concurrent misses for one key through two caches sharing a store make one origin
// request: one cache takes the store's lease and fetches, the other waits for the
// commit and answers from the store; the lease is given back after the commit.
func TestCoalescingAcrossCaches(t *testing.T) {
	ls := &lockingStore{Store: memory.New(memory.Options{})}
	t.Cleanup(func() { ls.Store.Close() })
	e := newEnv(t, ls)
	other, _ := e.newProxy(ls)
	var n atomic.Int64
	release := make(chan struct{})
	body := strings.Repeat("shared ", 1000)
	a := answer{fn: blockingOrigin(&n, release, "max-age=600", body)}
	res := make([]result, 40)
	var wg sync.WaitGroup
	for i := range res {
		base := e.proxy
		if i%2 == 1 {
			base = other
		}
		wg.Add(1)
		// One Host for both: the key is the effective request URI.
		go func() { defer wg.Done(); res[i] = e.doVia(base, "GET", "/shared", a, "Host: cache.test") }()
	}
	testnet.WaitFor(t, "the first request at the origin", func() bool { return n.Load() >= 1 })
	time.Sleep(200 * time.Millisecond) // let the others queue behind it, on both caches
	close(release)
	wg.Wait()
	fetched := 0
	for i, r := range res {
		if r.err != nil || r.status != 200 || r.body != body {
			t.Fatalf("client %d: %v, status %d, %d bytes", i, r.err, r.status, len(r.body))
		}
		// The others say collapsed (they waited for the fetch) or hit (looked up
		// again once it was stored).
		if cs := r.header.Get("Cache-Status"); !strings.Contains(cs, "collapsed") && !strings.Contains(cs, "hit") {
			fetched++
		}
	}
	if got := n.Load(); got != 1 || fetched != 1 {
		t.Errorf("origin requests = %d, responses from a fetch = %d; want 1 and 1", got, fetched)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(ls.held) != 0 || ls.leases == 0 {
		t.Errorf("leases taken %d, still held %d", ls.leases, len(ls.held))
	}
}

// When the coalesced upstream body is cut short, the waiting clients see an abort
// too (never a complete response), and nothing is stored.
func TestCoalescedTruncation(t *testing.T) {
	e := newEnv(t, nil)
	var n atomic.Int64
	release := make(chan struct{})
	a := answer{fn: func(w *server.ResponseWriter, r *server.Request) {
		n.Add(1)
		<-release
		w.Header().Set("Cache-Control", "max-age=600")
		w.SetContentLength(1000)
		w.Write(bytes.Repeat([]byte("y"), 400))
		w.Flush()
		panic(server.ErrAbortHandler)
	}}
	done := make(chan []result)
	go func() { done <- concurrent(e, 10, "/ct", a) }()
	testnet.WaitFor(t, "the first request", func() bool { return n.Load() >= 1 })
	time.Sleep(100 * time.Millisecond)
	close(release)
	for i, r := range <-done {
		if r.err == nil && len(r.body) == 1000 {
			t.Errorf("client %d got a complete body from a truncated upstream", i)
		}
	}
	if st := e.cache.Stats(); st.Stored != 0 {
		t.Errorf("stored %d entries from a truncated body", st.Stored)
	}
}

// stale-while-revalidate: the stale response is served at once and refreshed in
// the background with a conditional request.
func TestStaleWhileRevalidate(t *testing.T) {
	e := newEnv(t, nil)
	first := answer{status: 200, fields: []string{"Cache-Control: max-age=1, stale-while-revalidate=60", `ETag: "s1"`}, body: "v1"}
	e.do("GET", "/s", first)
	e.clock.Advance(10 * time.Second)
	reval := answer{status: 304, fields: []string{"Cache-Control: max-age=100", `ETag: "s1"`}}
	r := e.do("GET", "/s", reval)
	if r.body != "v1" || !strings.Contains(r.header.Get("Cache-Status"), "hit; ttl=-9; detail=stale-while-revalidate") {
		t.Fatalf("stale response: %q, Cache-Status %q", r.body, r.header.Get("Cache-Status"))
	}
	testnet.WaitFor(t, "the background revalidation", func() bool { return e.originCount() == 2 })
	last := e.lastSeen()
	if got := string(last.header.Get("If-None-Match")); got != `"s1"` {
		t.Errorf("revalidation If-None-Match = %q", got)
	}
	testnet.WaitFor(t, "the freshened entry", func() bool {
		// Until the background revalidation has updated the entry, the stale one is
		// served again (its Cache-Status says stale-while-revalidate).
		cs := e.do("GET", "/s", answer{status: 500}).header.Get("Cache-Status")
		return strings.Contains(cs, "hit; ttl=") && !strings.Contains(cs, "stale")
	})
	r = e.do("GET", "/s", answer{status: 500})
	if cs := r.header.Get("Cache-Status"); e.originCount() != 2 || !strings.Contains(cs, "hit; ttl=100") {
		t.Errorf("after revalidation: origin %d, Cache-Status %q", e.originCount(), cs)
	}
}

// flakyStore fails every operation while down is set.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

var errDown = errors.New("store down")

func (s *flakyStore) Get(ctx context.Context, k store.Key) (store.Entry, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Get(ctx, k)
}

func (s *flakyStore) Create(ctx context.Context, k store.Key, m []byte, n int64, ttl time.Duration) (store.Writer, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Create(ctx, k, m, n, ttl)
}

// logRecorder keeps log messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// A store outage is bypassed (requests still served), logged once, and the cache
// recovers when the store returns.
func TestStoreOutage(t *testing.T) {
	fs := &flakyStore{Store: memory.New(memory.Options{})}
	t.Cleanup(func() { fs.Store.Close() })
	logs := &logRecorder{}
	e := newEnv(t, fs, func(c *cache.Cache) { c.Logger = slog.New(logs) })
	fresh := answer{status: 200, fields: []string{"Cache-Control: max-age=600"}, body: "ok"}
	fs.down.Store(true)
	for i := range 20 {
		if r := e.do("GET", fmt.Sprint("/o", i), fresh); r.status != 200 || r.body != "ok" {
			t.Fatalf("request %d during the outage: %d %q %v", i, r.status, r.body, r.err)
		}
	}
	if got := e.originCount(); got != 20 {
		t.Errorf("origin saw %d of 20 requests during the outage", got)
	}
	if n := logs.count("unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
	fs.down.Store(false)
	time.Sleep(1100 * time.Millisecond) // the probe interval
	testnet.WaitFor(t, "the cache to store again", func() bool {
		e.do("GET", "/back", fresh)
		r := e.do("GET", "/back", fresh)
		return strings.Contains(r.header.Get("Cache-Status"), "hit")
	})
	if n := logs.count("recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}

// Hits from the disk store go out through the server's ReadFrom (sendfile), whole
// and as ranges.
func TestDiskHits(t *testing.T) {
	st, err := disk.Open(t.TempDir(), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	body := strings.Repeat("abcdefghij", 20<<10) // 200 KiB
	a := answer{status: 200, fields: []string{"Cache-Control: max-age=600"}, body: body}
	if r := e.do("GET", "/d", a); r.body != body {
		t.Fatalf("miss: %d bytes", len(r.body))
	}
	for range 3 {
		r := e.do("GET", "/d", a)
		if r.body != body || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
			t.Fatalf("hit: %d bytes, Cache-Status %q", len(r.body), r.header.Get("Cache-Status"))
		}
	}
	r := e.do("GET", "/d", a, "Range: bytes=100000-100009")
	if r.status != 206 || r.body != body[100000:100010] {
		t.Fatalf("range: %d %q", r.status, r.body)
	}
	if e.originCount() != 1 {
		t.Errorf("origin saw %d requests", e.originCount())
	}
}

// TestAbortedDiskHitClosesFile: clients that leave during a large disk hit (sent with
// sendfile) do not leave the entry's file open until a garbage collection finds it.
func TestAbortedDiskHitClosesFile(t *testing.T) {
	dir := t.TempDir()
	st, err := disk.Open(dir, disk.Options{MaxBytes: 1 << 30, MaxEntry: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	body := strings.Repeat("q", 16<<20)
	a := answer{status: 200, fields: []string{"Cache-Control: max-age=600"}, body: body}
	if r := e.do("GET", "/f", a); len(r.body) != len(body) {
		t.Fatalf("miss: %d bytes %v", len(r.body), r.err)
	}
	// No garbage collection while the files are counted: a finalizer would close
	// what the cache forgot to.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	host := strings.TrimPrefix(e.proxy, "http://")
	for range 5 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetReadBuffer(4 << 10)
		fmt.Fprintf(c, "GET /f HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		line, _ := bufio.NewReader(c).ReadString('\n')
		if !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Fatalf("status line %q", line)
		}
		c.(*net.TCPConn).SetLinger(0) // reset: the proxy's write fails
		c.Close()
	}
	testnet.WaitFor(t, "the cache files to be closed", func() bool { return openFilesUnder(dir) == 0 })
	if e.originCount() != 1 {
		t.Errorf("origin saw %d requests, want 1 (the others are hits)", e.originCount())
	}
}

// openFilesUnder counts this process's open descriptors for files under dir.
func openFilesUnder(dir string) int {
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.HasPrefix(l, dir) {
			n++
		}
	}
	return n
}

// TestSlowClientLargeMemoryHit: a large hit from memory goes out in bounded writes,
// each with its own write timeout, like a miss: a client that reads slowly but
// steadily (here about 4 MB/s, 8 MiB under a 1 s WriteTimeout) gets it whole.
func TestSlowClientLargeMemoryHit(t *testing.T) {
	body := strings.Repeat("m", 8<<20)
	origin := testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte(body))
	}))
	bal, err := proxy.NewBalancer(proxy.RoundRobin, "http://"+origin)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client.Client{ReadTimeout: 10 * time.Second}
	defer cl.Close()
	st := memory.New(memory.Options{MaxBytes: 256 << 20})
	defer st.Close()
	c := &cache.Cache{Store: st, Next: &proxy.Transport{Client: cl, Upstreams: bal}}
	defer c.Close()
	addr := testnet.ServeWith(t, &server.Server{Handler: &proxy.Proxy{Exchanger: c, Reverse: true}, WriteTimeout: time.Second})
	get := func(pause time.Duration) (int, string, error) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, "", err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		conn.(*net.TCPConn).SetReadBuffer(64 << 10)
		fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: site\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, "", err
		}
		buf := make([]byte, 64<<10)
		n := 0
		for {
			m, err := resp.Body.Read(buf)
			n += m
			if err == io.EOF {
				return n, resp.Header.Get("Cache-Status"), nil
			}
			if err != nil {
				return n, resp.Header.Get("Cache-Status"), err
			}
			time.Sleep(pause)
		}
	}
	if n, _, err := get(0); n != len(body) || err != nil {
		t.Fatalf("miss: %d bytes, %v", n, err)
	}
	n, cs, err := get(15 * time.Millisecond)
	if !strings.Contains(cs, "hit") {
		t.Fatalf("not a hit: %q", cs)
	}
	if n != len(body) || err != nil {
		t.Errorf("slow client got %d of %d bytes of a memory hit: %v", n, len(body), err)
	}
}

// losingStore is a store that lost part of every body it holds while lose is set
// (a Redis that evicted one chunk): entries are read through ReadAt only, and a read
// past half the body fails with store.ErrBodyLost.
type losingStore struct {
	store.Store
	lose atomic.Bool
}

type losingEntry struct {
	e    store.Entry
	lose bool
}

func (s *losingStore) Get(ctx context.Context, k store.Key) (store.Entry, error) {
	e, err := s.Store.Get(ctx, k)
	if err != nil {
		return nil, err
	}
	return &losingEntry{e: e, lose: s.lose.Load()}, nil
}

func (e *losingEntry) Meta() []byte { return e.e.Meta() }
func (e *losingEntry) Size() int64  { return e.e.Size() }
func (e *losingEntry) Close() error { return e.e.Close() }
func (e *losingEntry) ReadAt(p []byte, off int64) (int, error) {
	if half := e.e.Size() / 2; e.lose && off+int64(len(p)) > half {
		n := 0
		if off < half {
			n, _ = e.e.ReadAt(p[:half-off], off)
		}
		return n, fmt.Errorf("chunk gone: %w", store.ErrBodyLost)
	}
	return e.e.ReadAt(p, off)
}

// A stored entry whose body the store lost in part is deleted the first time a read
// meets the loss: that client gets an aborted message (never a complete-looking
// one), and the next request fetches the response again and stores it whole, instead
// of every hit being cut short until the entry expires.
func TestLostBodyDeleted(t *testing.T) {
	ls := &losingStore{Store: memory.New(memory.Options{MaxBytes: 64 << 20})}
	t.Cleanup(func() { ls.Store.Close() })
	e := newEnv(t, ls)
	body := strings.Repeat("z", 256<<10)
	a := answer{status: 200, fields: []string{"Cache-Control: max-age=600"}, body: body}
	if r := e.do("GET", "/lost", a); r.body != body {
		t.Fatalf("first: %d bytes, %v", len(r.body), r.err)
	}
	if r := e.do("GET", "/lost", a); r.body != body || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Fatalf("second: %d bytes, %v, Cache-Status %q (want a whole hit)", len(r.body), r.err, r.header.Get("Cache-Status"))
	}
	ls.lose.Store(true)
	if r := e.do("GET", "/lost", a); r.err == nil && len(r.body) == len(body) {
		t.Fatal("a hit on a body the store lost reached the client complete")
	}
	ls.lose.Store(false)
	r := e.do("GET", "/lost", a)
	if r.body != body || e.originCount() != 2 || strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Fatalf("after the loss: %d bytes, %v, origin %d requests, Cache-Status %q (want the entry deleted and fetched again)",
			len(r.body), r.err, e.originCount(), r.header.Get("Cache-Status"))
	}
	if r := e.do("GET", "/lost", a); r.body != body || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Fatalf("after the refetch: %d bytes, Cache-Status %q (want it stored again)", len(r.body), r.header.Get("Cache-Status"))
	}
	if got := e.cache.Stats().Lost; got != 1 {
		t.Errorf("Stats.Lost = %d, want 1", got)
	}
}

// Heads that declare a large body cost memory only as the body arrives: 10 misses
// whose origin declares 8 MiB each (stored in memory, spooled for followers) and then
// stalls after one byte grow the heap by far less than 10 × 8 MiB (the store's buffer
// and the spool were each allocated at the declared size up front: 160 MiB).
func TestDeclaredLengthNotAllocatedUpFront(t *testing.T) {
	st := memory.New(memory.Options{MaxBytes: 1 << 30, MaxEntry: 16 << 20})
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	release := make(chan struct{})
	defer close(release)
	a := answer{fn: func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.SetContentLength(8 << 20)
		w.Write([]byte("x"))
		w.Flush()
		<-release
	}}
	e.mu.Lock()
	e.next = a
	e.mu.Unlock()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	const n = 10
	addr := strings.TrimPrefix(e.proxy, "http://")
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(c, "GET /declared%d HTTP/1.1\r\nHost: %s\r\n\r\n", i, addr)
		// The head reaches the client once the cache has admitted the response
		// (store writer and spool made) and the proxy flushed it.
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, " 200 ") {
			t.Fatalf("request %d: %q %v", i, line, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grew := int64(ms.HeapAlloc) - int64(before)
	t.Logf("%d stalled misses declaring 8 MiB each: heap grew by %d KiB", n, grew>>10)
	if grew > 40<<20 {
		t.Errorf("heap grew by %d MiB for %d responses of one byte so far (declared 8 MiB each)", grew>>20, n)
	}
}

// leaderAndFollower starts a raw leader client for path through e's proxy (it reads
// the status line only) and then a follower (e.do) coalesced onto it, and returns the
// leader's connection and the follower's result channel. The origin must answer with
// fn, and hold its body until the test lets it go.
func leaderAndFollower(t *testing.T, e *env, path string, fn func(w *server.ResponseWriter, r *server.Request)) (*net.TCPConn, chan result) {
	t.Helper()
	a := answer{fn: fn}
	e.mu.Lock()
	e.next = a
	e.mu.Unlock()
	addr := strings.TrimPrefix(e.proxy, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr)
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("leader: %q %v", line, err)
	}
	done := make(chan result, 1)
	before := e.cache.Stats().Misses
	go func() { done <- e.do("GET", path, a) }()
	// The follower's miss is counted just before it joins the flight.
	testnet.WaitFor(t, "the follower's miss", func() bool { return e.cache.Stats().Misses > before })
	time.Sleep(100 * time.Millisecond)
	return c.(*net.TCPConn), done
}

// A follower does not depend on the leader's client: when that client goes away in
// the middle of the body, the leader goes on reading the upstream body for the
// follower, which gets it whole, and the response is stored (one origin request).
func TestCoalescedLeaderClientLeaves(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spoolMax int64
	}{{"spooled", 0}, {"read from the store", 1 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, func(c *cache.Cache) { c.SpoolMax = tc.spoolMax })
			half := strings.Repeat("a", 256<<10)
			release := make(chan struct{})
			leader, done := leaderAndFollower(t, e, "/leaves", func(w *server.ResponseWriter, r *server.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				w.SetContentLength(int64(2 * len(half)))
				w.Write([]byte(half))
				w.Flush()
				<-release
				w.Write([]byte(half))
			})
			leader.SetLinger(0)
			leader.Close() // the leader's client goes away (RST), mid-body
			close(release)
			r := <-done
			if r.err != nil || r.body != half+half {
				t.Fatalf("follower: %v, %d of %d bytes (cut short by the leader's client leaving)", r.err, len(r.body), 2*len(half))
			}
			if r := e.do("GET", "/leaves", answer{status: 500}); r.body != half+half || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
				t.Errorf("afterwards: %d bytes, Cache-Status %q (want the body stored)", len(r.body), r.header.Get("Cache-Status"))
			}
			if n := e.originCount(); n != 1 {
				t.Errorf("origin requests = %d, want 1", n)
			}
		})
	}
}

// A follower's wait for more of the leader's body is bounded by CoalesceWait: an
// upstream that stops sending mid-body ends the follower's response (aborted) long
// before the leader's own read timeout (10 s in the harness) gives up.
func TestCoalescedFollowerWaitBounded(t *testing.T) {
	e := newEnv(t, nil, func(c *cache.Cache) { c.CoalesceWait = 300 * time.Millisecond })
	stall := make(chan struct{})
	defer close(stall)
	_, done := leaderAndFollower(t, e, "/stalls", func(w *server.ResponseWriter, r *server.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.SetContentLength(1 << 20)
		w.Write([]byte("first bytes"))
		w.Flush()
		<-stall
	})
	start := time.Now()
	r := <-done
	if r.err == nil && len(r.body) == 1<<20 {
		t.Fatal("the follower got a complete body from a stalled upstream")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the follower waited %v for a stalled leader (CoalesceWait 300ms)", d)
	}
}

// Close cancels a background revalidation in progress rather than waiting for it to
// end by itself: an origin that never answers the revalidation does not hold Close
// (it held it for the upstream's own timeout, 10 s in the harness, a minute at most
// otherwise, past hop proxy's --shutdown-timeout). No revalidation starts after it.
func TestCloseCancelsRevalidation(t *testing.T) {
	e := newEnv(t, nil)
	first := answer{status: 200, fields: []string{"Cache-Control: max-age=1, stale-while-revalidate=60", `ETag: "c1"`}, body: "v1"}
	e.do("GET", "/close", first)
	e.clock.Advance(10 * time.Second)
	hold := make(chan struct{})
	defer close(hold)
	var arrived atomic.Bool
	stuck := answer{fn: func(w *server.ResponseWriter, r *server.Request) {
		arrived.Store(true)
		<-hold
	}}
	if r := e.do("GET", "/close", stuck); r.body != "v1" {
		t.Fatalf("stale response: %q %v", r.body, r.err)
	}
	testnet.WaitFor(t, "the revalidation at the origin", arrived.Load)
	start := time.Now()
	e.cache.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a revalidation stuck at the origin", d)
	}
	before := e.originCount()
	if r := e.do("GET", "/close", stuck); r.body != "v1" {
		t.Fatalf("stale response after Close: %q %v", r.body, r.err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := e.originCount(); n != before {
		t.Errorf("a revalidation started after Close (origin %d requests, %d before)", n, before)
	}
}

// Concurrent requests for one stale response send one conditional request upstream
// (they sent one each: 20 validations for 20 requests); all get the response,
// freshened by the 304.
func TestValidationCoalesced(t *testing.T) {
	e := newEnv(t, nil)
	first := answer{status: 200, fields: []string{"Cache-Control: max-age=1", `ETag: "h1"`}, body: "herd"}
	e.do("GET", "/herd", first)
	e.clock.Advance(10 * time.Second)
	var n atomic.Int64
	release := make(chan struct{})
	notModified := answer{fn: func(w *server.ResponseWriter, r *server.Request) {
		n.Add(1)
		<-release
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"h1"`)
		w.WriteHeader(304)
	}}
	done := make(chan []result)
	go func() { done <- concurrent(e, 20, "/herd", notModified) }()
	testnet.WaitFor(t, "the first validation at the origin", func() bool { return n.Load() >= 1 })
	time.Sleep(100 * time.Millisecond) // let the others queue behind it
	close(release)
	for i, r := range <-done {
		if r.err != nil || r.status != 200 || r.body != "herd" {
			t.Fatalf("client %d: %v, status %d, %q", i, r.err, r.status, r.body)
		}
	}
	if got := n.Load(); got != 1 {
		t.Errorf("origin validations = %d for 20 concurrent requests, want 1", got)
	}
}
