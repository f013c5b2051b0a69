package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/redis"
	"github.com/hop-http/hop/cache/store/storetest"
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
