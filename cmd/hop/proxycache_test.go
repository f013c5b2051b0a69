package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/memory"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

func TestProxyCacheFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--cache-dir", "/tmp/x", "--cache-redis", "redis://127.0.0.1:1/0"}, "exclude each other"},
		{[]string{"--cache", "--cache-size", "-1"}, "positive"},
		{[]string{"--cache", "--cache-max-object", "0"}, "positive"},
		{[]string{"--allow-purge", "300.0.0.0/8"}, "CIDR"},
	} {
		var stderr bytes.Buffer
		if code := runProxy(context.Background(), tc.args, io.Discard, &stderr, nil); code != 2 || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("hop proxy %q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.msg)
		}
	}
}

// Each store flag gives a working cache: the second GET is a hit, and PURGE from an
// allowed network removes the entry.
func TestProxyCacheStores(t *testing.T) {
	var n atomic.Int64
	origin := testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		n.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte("cached body"))
	}))
	for _, flags := range [][]string{{"--cache"}, {"--cache-dir", filepath.Join(t.TempDir(), "c")}} {
		t.Run(flags[0], func(t *testing.T) {
			n.Store(0)
			addr, stop := startProxy(t, io.Discard, append([]string{"--upstream", "http://" + origin, "--access-log", "off",
				"--allow-purge", "127.0.0.1"}, flags...)...)
			defer stop()
			get := func() string {
				resp, err := http.Get("http://" + addr + "/c")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if string(b) != "cached body" {
					t.Fatalf("body %q", b)
				}
				return resp.Header.Get("Cache-Status")
			}
			get()
			if cs := get(); !strings.Contains(cs, "hit") || n.Load() != 1 {
				t.Fatalf("second GET: Cache-Status %q, origin %d requests", cs, n.Load())
			}
			req, _ := http.NewRequest("PURGE", "http://"+addr+"/c", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("PURGE: %d", resp.StatusCode)
			}
			if cs := get(); !strings.Contains(cs, "fwd=uri-miss") || n.Load() != 2 {
				t.Fatalf("after PURGE: Cache-Status %q, origin %d requests", cs, n.Load())
			}
		})
	}
}

// TestProxyCacheMaxObject: --cache-max-object is what is stored, whatever the store's
// own default bound on an entry (the memory store's is an eighth of its size).
func TestProxyCacheMaxObject(t *testing.T) {
	body := strings.Repeat("m", 12<<20)
	var n atomic.Int64
	origin := testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		n.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte(body))
	}))
	addr, stop := startProxy(t, io.Discard, "--upstream", "http://"+origin, "--access-log", "off",
		"--cache", "--cache-size", "64000000", "--cache-max-object", "20000000")
	defer stop()
	for i := range 2 {
		resp, err := http.Get("http://" + addr + "/big")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != len(body) {
			t.Fatalf("request %d: %d bytes", i+1, len(b))
		}
	}
	if n.Load() != 1 {
		t.Errorf("origin saw %d requests: a 12 MB body under --cache-max-object 20 MB was not stored", n.Load())
	}
}

// statsCountingStore counts the calls of Stats (a Redis round trip pair each).
type statsCountingStore struct {
	store.Store
	n atomic.Int64
}

func (s *statsCountingStore) Stats() store.Stats { s.n.Add(1); return s.Store.Stats() }

// One scrape of the cache's metrics asks the store for its Stats once (it asked once
// per metric: 13 calls, 26 Redis round trips), and every metric is there.
func TestCacheMetricsOneStatsPerScrape(t *testing.T) {
	st := &statsCountingStore{Store: memory.New(memory.Options{})}
	defer st.Store.Close()
	c := &cache.Cache{Store: st}
	reg := prometheus.NewRegistry()
	registerCacheMetrics(reg, c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if n := st.n.Load(); n != 1 {
		t.Errorf("one scrape called Store.Stats %d times, want 1", n)
	}
	if len(mfs) != 13 {
		t.Errorf("%d cache metrics, want 13", len(mfs))
	}
}
