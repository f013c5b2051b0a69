package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/disk"
	"github.com/hop-http/hop/cache/store/memory"
	"github.com/hop-http/hop/cache/store/redis"
	"github.com/hop-http/hop/proxy"
)

// cacheFlags are the cache flags of `hop proxy`.
type cacheFlags struct {
	on         bool
	dir        string
	redisURL   string
	maxBytes   int64
	maxObject  int64
	sync       bool
	allowPurge prefixFlag
}

func (c *cacheFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.on, "cache", false, "turn on the shared cache (RFC 9111; in memory unless --cache-dir or --cache-redis)")
	fs.StringVar(&c.dir, "cache-dir", "", "keep the cache on disk in `DIR` (implies --cache)")
	fs.StringVar(&c.redisURL, "cache-redis", "", "share the cache through Redis at `URL` redis://HOST:PORT/DB (implies --cache)")
	fs.Int64Var(&c.maxBytes, "cache-size", 0, "bytes the cache may hold (memory default 256 MiB, disk 1 GiB; Redis is bounded by its maxmemory)")
	fs.Int64Var(&c.maxObject, "cache-max-object", cache.DefaultMaxObject, "largest response body stored, in bytes (at most half of --cache-size in memory or on disk)")
	fs.BoolVar(&c.sync, "cache-sync", false, "fsync every disk cache entry before it becomes visible (survives power loss)")
	fs.Var(&c.allowPurge, "allow-purge", "honour PURGE requests from this `CIDR` (repeatable)")
}

func (c *cacheFlags) check() error {
	switch {
	case c.dir != "" && c.redisURL != "":
		return errors.New("--cache-dir and --cache-redis exclude each other")
	case c.maxBytes < 0 || c.maxObject <= 0:
		return errors.New("--cache-size and --cache-max-object must be positive")
	}
	c.on = c.on || c.dir != "" || c.redisURL != ""
	return nil
}

// build makes the cache in front of next; close releases it and its store.
func (c *cacheFlags) build(next proxy.Exchanger, log *slog.Logger) (*cache.Cache, func(), error) {
	var st store.Store
	var err error
	maxObject := c.maxObject
	// The store's bound on one entry follows --cache-max-object (with room for the
	// stored head), so that the flag says what is stored; in memory and on disk an
	// entry is at most half of the store.
	entry := func(maxBytes, def int64) int64 {
		if maxBytes <= 0 {
			maxBytes = def
		}
		half := maxBytes / 2
		room := min(metaRoom, half/2)
		if maxObject+room > half {
			maxObject = half - room
			log.Warn("--cache-max-object lowered to half of the cache size", "max_object", maxObject)
		}
		return maxObject + room
	}
	switch {
	case c.dir != "":
		st, err = disk.Open(c.dir, disk.Options{MaxBytes: c.maxBytes, MaxEntry: entry(c.maxBytes, disk.DefaultMaxBytes), Sync: c.sync})
	case c.redisURL != "":
		st, err = redis.Open(redis.Options{URL: c.redisURL, MaxEntry: maxObject + metaRoom})
	default:
		st = memory.New(memory.Options{MaxBytes: c.maxBytes, MaxEntry: entry(c.maxBytes, memory.DefaultMaxBytes)})
	}
	if err != nil {
		return nil, nil, err
	}
	ch := &cache.Cache{Store: st, Next: next, MaxObject: maxObject, AllowPurge: c.allowPurge, Logger: log}
	return ch, func() { ch.Close(); st.Close() }, nil
}

// metaRoom is what an entry may hold besides its body (the stored head and facts).
const metaRoom = 64 << 10

// registerCacheMetrics adds the cache's counters to the proxy's registry (all
// prefixed hop_cache_): hits, misses, stale served, stored, coalesced, bypassed,
// store errors, purges, responses too large to store and entries lost (counters),
// bytes stored, entries and evictions (from the store). They are one collector that
// takes the cache's Stats once per scrape: with Redis, each Stats is two round trips
// (DBSIZE, INFO).
func registerCacheMetrics(reg *prometheus.Registry, c *cache.Cache) {
	cc := &cacheCollector{c: c}
	add := func(kind prometheus.ValueType, name, help string, v func(cache.Stats) int64) {
		cc.metrics = append(cc.metrics, cacheMetric{prometheus.NewDesc("hop_cache_"+name, help, nil, nil), kind, v})
	}
	counter := func(name, help string, v func(cache.Stats) int64) { add(prometheus.CounterValue, name, help, v) }
	gauge := func(name, help string, v func(cache.Stats) int64) { add(prometheus.GaugeValue, name, help, v) }
	counter("hits_total", "Responses served from the cache (fresh, stale, or after a 304).", func(s cache.Stats) int64 { return s.Hits })
	counter("misses_total", "GET and HEAD requests with no usable stored response.", func(s cache.Stats) int64 { return s.Misses })
	counter("stale_served_total", "Responses served stale (max-stale, stale-while-revalidate, stale-if-error, origin unreachable).", func(s cache.Stats) int64 { return s.StaleServed })
	counter("stored_total", "Responses committed to the store.", func(s cache.Stats) int64 { return s.Stored })
	counter("coalesced_total", "Requests answered from another request's upstream response.", func(s cache.Stats) int64 { return s.Coalesced })
	counter("bypassed_total", "Requests the cache passed through (If-Match, If-Unmodified-Since).", func(s cache.Stats) int64 { return s.Bypassed })
	counter("store_errors_total", "Failed store operations (the store is bypassed while it fails).", func(s cache.Stats) int64 { return s.StoreErrors })
	counter("purges_total", "PURGE requests and admin purges.", func(s cache.Stats) int64 { return s.Purges })
	counter("too_large_total", "Storable responses not stored because their body exceeded --cache-max-object or the store's bound.", func(s cache.Stats) int64 { return s.TooLarge })
	counter("lost_total", "Stored entries deleted because part of their body was gone (e.g. a Redis chunk evicted).", func(s cache.Stats) int64 { return s.Lost })
	counter("evictions_total", "Entries the store dropped to make room.", func(s cache.Stats) int64 { return s.Store.Evictions })
	gauge("bytes_stored", "Bytes held by the store.", func(s cache.Stats) int64 { return s.Store.Bytes })
	gauge("entries", "Entries held by the store (Redis: keys of its database).", func(s cache.Stats) int64 { return s.Store.Entries })
	reg.MustRegister(cc)
}

// cacheCollector reports a cache's metrics from one Stats per scrape.
type cacheCollector struct {
	c       *cache.Cache
	metrics []cacheMetric
}

type cacheMetric struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	v    func(cache.Stats) int64
}

func (cc *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range cc.metrics {
		ch <- m.desc
	}
}

func (cc *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := cc.c.Stats()
	for _, m := range cc.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(m.v(s)))
	}
}

// purgeHandler is the admin endpoint POST /purge?url=URL: 200 when something was
// stored for the URL, 404 otherwise.
func purgeHandler(c *cache.Cache) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != "PURGE" {
			w.Header().Set("Allow", "POST, PURGE")
			http.Error(w, "use POST /purge?url=URL", http.StatusMethodNotAllowed)
			return
		}
		u := r.URL.Query().Get("url")
		if u == "" {
			http.Error(w, "missing url parameter", http.StatusBadRequest)
			return
		}
		found, err := c.Purge(r.Context(), u)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		case !found:
			http.Error(w, "not in cache", http.StatusNotFound)
		default:
			fmt.Fprintln(w, "purged")
		}
	})
}
