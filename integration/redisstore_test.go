package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/redis"
	"github.com/hop-http/hop/cache/store/storetest"
	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/server"
)

// The Redis backend keeps the store contract against a real redis-server; small
// chunks make the large-body case span many of them and exercise lazy reads.
func TestRedisStoreContract(t *testing.T) {
	srv := startRedis(t)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		s, err := redis.Open(redis.Options{URL: srv.URL(), Prefix: fmt.Sprintf("t%d:", n), ChunkSize: 64 << 10, EagerMax: 128 << 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The Redis store's leases (store.Locker) against a real redis-server: exclusive,
// renewed while held (still held after several lease times), given back by unlock,
// and lapsing by themselves when their holder stops renewing (its process died).
func TestRedisStoreLeases(t *testing.T) {
	srv := startRedis(t)
	open := func() *redis.Store {
		s, err := redis.Open(redis.Options{URL: srv.URL(), Prefix: "lease:", LeaseTTL: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ctx := context.Background()
	a, b := open(), open()
	k := store.KeyOf([]byte("http://cache.test/leased"))
	unlock, ok, err := a.TryLock(ctx, k)
	if err != nil || !ok {
		t.Fatalf("first TryLock: %v %v", ok, err)
	}
	time.Sleep(time.Second) // more than three lease times: only renewal keeps it
	if _, ok, err := b.TryLock(ctx, k); ok || err != nil {
		t.Fatalf("TryLock while another holder renews the lease: %v %v", ok, err)
	}
	unlock()
	if _, ok, err := b.TryLock(ctx, k); err != nil || !ok {
		t.Fatalf("TryLock after unlock: %v %v", ok, err)
	}
	unlock() // a second unlock of a lease given back must not release b's
	if _, ok, _ := a.TryLock(ctx, k); ok {
		t.Fatal("a stale unlock released another holder's lease")
	}
	b.Close() // the holder goes away without unlocking: its lease lapses
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok, _ := a.TryLock(ctx, k); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease of a holder that stopped renewing did not lapse")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A chunk of a large entry that Redis evicted (allkeys-lru) or that expired: the
// first hit that meets the gap is cut short (an aborted message, never a complete
// one), the cache deletes the entry there, and the next request fetches the
// response again and stores it whole — rather than every hit being truncated until
// the entry expires. A real redis-server, an in-process caching proxy.
func TestRedisLostChunk(t *testing.T) {
	srv := startRedis(t)
	st, err := redis.Open(redis.Options{URL: srv.URL(), Prefix: "lost:", ChunkSize: 64 << 10, EagerMax: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	body := strings.Repeat("r", 512<<10) // 8 chunks, read lazily
	var origin atomic.Int64
	up := testnet.Serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		origin.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte(body))
	}))
	bal, err := proxy.NewBalancer(proxy.RoundRobin, "http://"+up)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client.Client{}
	t.Cleanup(func() { cl.Close() })
	c := &cache.Cache{Store: st, Next: &proxy.Transport{Client: cl, Upstreams: bal},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	t.Cleanup(func() { c.Close() })
	px := "http://" + testnet.Serve(t, &proxy.Proxy{Exchanger: c, Reverse: true})
	hc := &http.Client{Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	get := func() (string, string, error) {
		resp, err := hc.Get(px + "/big")
		if err != nil {
			return "", "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), resp.Header.Get("Cache-Status"), err
	}
	if b, _, err := get(); b != body {
		t.Fatalf("miss: %d bytes, %v", len(b), err)
	}
	if b, cs, err := get(); b != body || !strings.Contains(cs, "hit") {
		t.Fatalf("hit: %d bytes, %v, Cache-Status %q", len(b), err, cs)
	}
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer rc.Close()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, "lost:b:*:3").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("chunk 3's key: %v %v", keys, err)
	}
	rc.Del(ctx, keys...) // an eviction
	if b, _, err := get(); err == nil && b == body {
		t.Fatal("a hit with a chunk gone reached the client complete")
	}
	if b, cs, err := get(); b != body || origin.Load() != 2 || strings.Contains(cs, "hit") {
		t.Fatalf("after the loss: %d bytes, %v, origin %d requests, Cache-Status %q (want the entry deleted and fetched again)",
			len(b), err, origin.Load(), cs)
	}
	if b, cs, err := get(); b != body || !strings.Contains(cs, "hit") {
		t.Fatalf("after the refetch: %d bytes, %v, Cache-Status %q", len(b), err, cs)
	}
	if got := c.Stats().Lost; got != 1 {
		t.Errorf("Stats.Lost = %d, want 1", got)
	}
}

// Commit starts the life of every chunk again with the entry's: the chunks of a
// body that streamed for longer than Grace outlive its metadata (they were set to
// expire Grace after the entry's TTL counted from each chunk's flush, so the first
// ones went before the entry and every hit of its last moments was cut short).
func TestRedisChunksOutliveEntry(t *testing.T) {
	srv := startRedis(t)
	const grace = 500 * time.Millisecond
	st, err := redis.Open(redis.Options{URL: srv.URL(), Prefix: "ttl:", ChunkSize: 64 << 10, Grace: grace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	k := store.KeyOf([]byte("http://cache.test/slow"))
	w, err := st.Create(ctx, k, []byte("meta"), 128<<10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	half := make([]byte, 64<<10)
	if _, err := w.Write(half); err != nil { // chunk 0 flushed now
		t.Fatal(err)
	}
	time.Sleep(2 * grace) // the body streams on for longer than Grace
	if _, err := w.Write(half); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer rc.Close()
	keys, err := rc.Keys(ctx, "ttl:b:"+k.String()+":*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("chunk keys %v %v", keys, err)
	}
	// The chunks' lives are read first: any delay before the metadata's is read
	// only shortens that one.
	var lives []time.Duration
	for _, ck := range keys {
		d, err := rc.PTTL(ctx, ck).Result()
		if err != nil {
			t.Fatal(err)
		}
		lives = append(lives, d)
	}
	metaTTL, err := rc.PTTL(ctx, "ttl:m:"+k.String()).Result()
	if err != nil || metaTTL <= 0 {
		t.Fatalf("metadata TTL %v %v", metaTTL, err)
	}
	for i, d := range lives {
		if d < metaTTL {
			t.Errorf("chunk %s lives %v, less than its entry's %v", keys[i], d, metaTTL)
		}
	}
}
