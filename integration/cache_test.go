package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

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

// redisProxies starts two hop proxy processes, A and B, in front of origin, sharing
// the cache in redis-server rs. Their logs may name a Redis outage (the tests that
// stop Redis count those lines themselves).
func redisProxies(t *testing.T, origin string, rs *redisServer) (a, b *plaintextServer) {
	t.Helper()
	for i, name := range []string{"A", "B"} {
		p := startHop(t, "hop proxy "+name, "proxy", "--upstream", "http://"+origin, "--cache-redis", rs.URL(),
			"--access-log", "off", "--name", "node"+name)
		p.allowLog = []string{"cache store unavailable"}
		if i == 0 {
			a = p
		} else {
			b = p
		}
	}
	return a, b
}

// TestCacheScaleOutRedis: two hop proxy processes share one redis-server. A miss
// through A is a hit through B, and 1,000 concurrent misses for one key, half through
// each, make exactly one origin request: each process coalesces its own, and the two
// share one fetch through a lease in Redis.
func TestCacheScaleOutRedis(t *testing.T) {
	rs := startRedis(t)
	var n atomic.Int64
	origin := countingOrigin(t, &n, 300*time.Millisecond)
	a, b := redisProxies(t, origin, rs)
	hc := &http.Client{Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()

	body, cs := getVia(t, hc, a.url+"/shared")
	if !strings.Contains(cs, "fwd=uri-miss") || !strings.Contains(cs, "stored") {
		t.Fatalf("through A: Cache-Status %q", cs)
	}
	body2, cs2 := getVia(t, hc, b.url+"/shared")
	if body2 != body || !strings.Contains(cs2, "hit") || n.Load() != 1 {
		t.Fatalf("through B: %q, Cache-Status %q, origin requests %d", body2, cs2, n.Load())
	}

	n.Store(0)
	tr := &http.Transport{MaxIdleConnsPerHost: 1000}
	many := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	var bad atomic.Int64
	var statuses sync.Map
	for i := range 1000 {
		node := a
		if i%2 == 1 {
			node = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", node.url+"/herd", nil)
			req.Host = "cache.test"
			resp, err := many.Do(req)
			if err != nil {
				bad.Add(1)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(b) != "shared body for /herd" {
				bad.Add(1)
			}
			v, _ := statuses.LoadOrStore(resp.Header.Get("Cache-Status"), new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}()
	}
	wg.Wait()
	var summary []string
	statuses.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%d× %q", v.(*atomic.Int64).Load(), k))
		return true
	})
	if bad.Load() != 0 {
		t.Errorf("%d of 1000 clients failed", bad.Load())
	}
	if got := n.Load(); got != 1 {
		t.Errorf("1000 concurrent misses over two proxies made %d origin requests, want 1; Cache-Status: %s\nA:\n%s\nB:\n%s",
			got, strings.Join(summary, ", "), a.log(), b.log())
	}
	t.Logf("1000 concurrent misses over two proxies: Cache-Status %s", strings.Join(summary, ", "))
}

// TestCacheRedisOutage: Redis is stopped while two hop proxy processes use it; both
// keep serving (every request goes to the origin), each logs the outage once, and
// both use Redis again when it returns, logging the recovery once.
func TestCacheRedisOutage(t *testing.T) {
	rs := startRedis(t)
	var n atomic.Int64
	origin := countingOrigin(t, &n, 0)
	a, b := redisProxies(t, origin, rs)
	nodes := []*plaintextServer{a, b}
	hc := &http.Client{Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	getVia(t, hc, a.url+"/x")
	if _, cs := getVia(t, hc, b.url+"/x"); !strings.Contains(cs, "hit") {
		t.Fatalf("before the outage, through B: Cache-Status %q", cs)
	}
	rs.Stop()
	before := n.Load()
	for i := range 10 {
		for j, p := range nodes {
			path := fmt.Sprintf("/o%d-%d", j, i)
			if body, _ := getVia(t, hc, p.url+path); body != "shared body for "+path {
				t.Fatalf("request %d through %s during the outage: %q", i, p.name, body)
			}
		}
	}
	if got := n.Load() - before; got != 20 {
		t.Errorf("origin saw %d of the 20 requests made during the outage", got)
	}
	for _, p := range nodes {
		if c := strings.Count(p.log(), "cache store unavailable"); c != 1 {
			t.Errorf("%s logged the outage %d times, want once:\n%s", p.name, c, p.log())
		}
	}
	rs.Start()
	for _, p := range nodes {
		deadline := time.Now().Add(20 * time.Second)
		path := "/back-" + p.name[len(p.name)-1:]
		for {
			getVia(t, hc, p.url+path)
			if _, cs := getVia(t, hc, p.url+path); strings.Contains(cs, "hit") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no hit 20 s after Redis returned:\n%s", p.name, p.log())
			}
			time.Sleep(200 * time.Millisecond)
		}
		if c := strings.Count(p.log(), "cache store recovered"); c != 1 {
			t.Errorf("%s logged the recovery %d times, want once:\n%s", p.name, c, p.log())
		}
	}
	// Shared again: what A stores now, B finds.
	getVia(t, hc, a.url+"/after")
	if _, cs := getVia(t, hc, b.url+"/after"); !strings.Contains(cs, "hit") {
		t.Errorf("after the recovery, a miss through A is not a hit through B: %q", cs)
	}
}
