package resolve

import (
	"container/list"
	"context"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// answer is the outcome of one query (one name, one record type).
type answer struct {
	addrs    []netip.Addr  // addresses, in answer order; nil if negative
	ttl      time.Duration // how long it may be cached (remaining, for cache hits); 0: do not cache
	notFound bool          // NXDOMAIN or NODATA
	server   string        // the server that answered (or was last tried, on error)
	tcp      bool          // the answer came over TCP
	cached   bool          // the answer came from the cache
	err      error         // no usable answer: timeout, server failure, ...
}

type cacheKey struct {
	name  string // fully qualified, lower case, with final dot
	qtype dnsmessage.Type
}

type cacheEntry struct {
	key     cacheKey
	ans     answer
	expires time.Time
}

// cache is a size-bounded LRU cache of answers with expiry. A nil *cache
// caches nothing.
type cache struct {
	mu  sync.Mutex
	max int
	m   map[cacheKey]*list.Element // of *cacheEntry
	lru list.List                  // front: most recently used
}

func newCache(max int) *cache {
	if max <= 0 {
		return nil
	}
	return &cache{max: max, m: make(map[cacheKey]*list.Element)}
}

// get returns the unexpired answer for k, with its remaining TTL.
func (c *cache) get(k cacheKey, now time.Time) (answer, bool) {
	if c == nil {
		return answer{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return answer{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.m, k)
		return answer{}, false
	}
	c.lru.MoveToFront(el)
	a := e.ans
	a.ttl = e.expires.Sub(now)
	a.cached = true
	a.tcp = false
	return a, true
}

// put stores a, if its TTL is positive, capping the TTL.
func (c *cache) put(k cacheKey, a answer, now time.Time) {
	if c == nil || a.ttl <= 0 || a.err != nil {
		return
	}
	e := &cacheEntry{key: k, ans: a, expires: now.Add(a.ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.m[k] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.m, el.Value.(*cacheEntry).key)
	}
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// group shares one in-flight query among concurrent lookups of the same key.
// The query runs in its own goroutine with a context that is canceled when
// every waiter has given up, so a caller's cancellation never fails the other
// waiters, and an abandoned query stops.
type group struct {
	mu sync.Mutex
	m  map[cacheKey]*call
}

type call struct {
	key     cacheKey
	done    chan struct{}
	ans     answer // set before done is closed
	waiters int    // guarded by group.mu
	cancel  context.CancelFunc
}

// join returns the in-flight call for key, starting fn in a new one if there
// is none. The caller must then call wait or leave exactly once.
func (g *group) join(key cacheKey, fn func(context.Context) answer) *call {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.m[key]; ok {
		c.waiters++
		return c
	}
	if g.m == nil {
		g.m = make(map[cacheKey]*call)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &call{key: key, done: make(chan struct{}), waiters: 1, cancel: cancel}
	g.m[key] = c
	go func() {
		defer cancel()
		c.ans = fn(ctx)
		g.mu.Lock()
		if g.m[key] == c {
			delete(g.m, key)
		}
		g.mu.Unlock()
		close(c.done)
	}()
	return c
}

// wait waits for c to finish or ctx to be done; in the latter case it leaves
// c and returns ctx's error.
func (g *group) wait(ctx context.Context, c *call) (answer, error) {
	select {
	case <-c.done:
		return c.ans, nil
	case <-ctx.Done():
		g.leave(c)
		return answer{}, ctx.Err()
	}
}

// leave gives up waiting for c; the last waiter to leave cancels it.
func (g *group) leave(c *call) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c.waiters--
	if c.waiters == 0 {
		if g.m[c.key] == c {
			delete(g.m, c.key)
		}
		c.cancel()
	}
}
