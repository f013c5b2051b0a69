package integration

import (
	"fmt"
	"testing"

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
