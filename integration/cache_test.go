package integration

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store/redis"
	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/server"
)

// cachingProxy starts a reverse proxy with a Redis-backed cache in front of origin.
func cachingProxy(t *testing.T, origin, redisURL string, logger *slog.Logger) (string, *cache.Cache) {
	t.Helper()
	st, err := redis.Open(redis.Options{URL: redisURL, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bal, err := proxy.NewBalancer(proxy.RoundRobin, "http://"+origin)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client.Client{ConnectTimeout: 5 * time.Second, ReadTimeout: 20 * time.Second}
	t.Cleanup(func() { cl.Close() })
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &cache.Cache{Store: st, Next: &proxy.Transport{Client: cl, Upstreams: bal}, Logger: logger}
	t.Cleanup(func() { c.Close() })
	return "http://" + testnet.Serve(t, &proxy.Proxy{Exchanger: c, Reverse: true}), c
}

// countingOrigin answers every GET with a cacheable body after delay.
func countingOrigin(t *testing.T, n *atomic.Int64, delay time.Duration) string {
	return testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		n.Add(1)
		time.Sleep(delay)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte("shared body for " + string(r.Target)))
	}))
}

// getVia GETs url with Host: cache.test: nodes behind one name share keys (the key
// is the effective request URI, which in reverse mode takes the authority from Host).
func getVia(t *testing.T, hc *http.Client, url string) (string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "cache.test"
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.Header.Get("Cache-Status")
}

// Two caching proxies share one redis-server: a miss through A is a hit through B;
// 1,000 concurrent misses for one key through A make one origin request.
func TestCacheSharedThroughRedis(t *testing.T) {
	rs := startRedis(t)
	var n atomic.Int64
	origin := countingOrigin(t, &n, 0)
	a, ca := cachingProxy(t, origin, rs.URL(), nil)
	b, _ := cachingProxy(t, origin, rs.URL(), nil)
	hc := &http.Client{Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()

	body, cs := getVia(t, hc, a+"/shared")
	if !strings.Contains(cs, "fwd=uri-miss") || !strings.Contains(cs, "stored") {
		t.Fatalf("through A: Cache-Status %q", cs)
	}
	body2, cs2 := getVia(t, hc, b+"/shared")
	if body2 != body || !strings.Contains(cs2, "hit") || n.Load() != 1 {
		t.Fatalf("through B: %q, Cache-Status %q, origin requests %d; A: %+v", body2, cs2, n.Load(), ca.Stats())
	}

	// 1,000 concurrent misses for one key.
	n.Store(0)
	slow := countingOrigin(t, &n, 300*time.Millisecond)
	herdLog := &lineLog{}
	c, cc := cachingProxy(t, slow, rs.URL(), slog.New(slog.NewTextHandler(herdLog, nil)))
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 1000}
	many := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := many.Get(c + "/herd")
			if err != nil {
				bad.Add(1)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(b) != "shared body for /herd" {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d of 1000 clients failed", bad.Load())
	}
	if got := n.Load(); got != 1 {
		t.Errorf("1000 concurrent misses made %d origin requests, want 1; %+v\n%s", got, cc.Stats(), herdLog.String())
	}
}

// Redis stopped mid-run: the proxy keeps serving (bypass, logged once) and uses
// Redis again when it returns.
func TestCacheRedisOutage(t *testing.T) {
	rs := startRedis(t)
	var n atomic.Int64
	origin := countingOrigin(t, &n, 0)
	logs := &lineLog{}
	p, _ := cachingProxy(t, origin, rs.URL(), slog.New(slog.NewTextHandler(logs, nil)))
	hc := &http.Client{Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	getVia(t, hc, p+"/x")
	if _, cs := getVia(t, hc, p+"/x"); !strings.Contains(cs, "hit") {
		t.Fatalf("before the outage: Cache-Status %q", cs)
	}
	rs.Stop()
	before := n.Load()
	for i := range 10 {
		path := fmt.Sprint("/o", i)
		body, _ := getVia(t, hc, p+path)
		if body != "shared body for "+path {
			t.Fatalf("request %d during the outage: %q", i, body)
		}
	}
	if n.Load() != before+10 {
		t.Errorf("origin saw %d of the 10 requests made during the outage", n.Load()-before)
	}
	if c := logs.count("unavailable"); c != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", c, logs.String())
	}
	rs.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		getVia(t, hc, p+"/y")
		if _, cs := getVia(t, hc, p+"/y"); strings.Contains(cs, "hit") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hit 15 s after Redis returned:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c := logs.count("recovered"); c != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", c, logs.String())
	}
}

// lineLog collects log output.
type lineLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lineLog) count(sub string) int { return strings.Count(l.String(), sub) }
