// Package redis is the Redis backend of hop's cache store (hop proxy --cache-redis
// redis://HOST:PORT/DB), through which several hop proxy processes share one cache.
// It uses github.com/redis/go-redis/v9.
//
// An entry is one metadata key PREFIX m:KEY, holding a generation number, the body
// length, the chunk size and the cache's metadata, and body chunks
// PREFIX b:KEY:GEN:I of at most ChunkSize bytes each. The writer streams chunks to
// Redis as they fill (memory per write is one chunk) and sets the metadata key last,
// at Commit, so an entry is visible only when every chunk is there; a writer that
// aborts (or a process that dies) leaves only chunks without metadata, which expire.
// Keys live for the entry's TTL, which the cache computes from the freshness
// lifetime plus the stale windows; chunks live Grace longer, so that a reader that
// started just before the entry expired, was replaced or was deleted can finish
// (replacement and deletion shorten the old chunks' life to Grace rather than
// deleting them).
//
// Bodies up to EagerMax are read with one pipelined round trip at Get
// (store.BytesEntry); larger ones chunk by chunk as they are read. Commit starts every
// chunk's life again with the entry's. A chunk evicted later (allkeys-lru) makes Get
// of a small entry report it missing, and ReadAt of a large one fail with an error
// wrapping store.ErrBodyLost, on which the cache deletes the entry.
//
// Stats reports Redis's own view of the database: Bytes is used_memory, Evictions
// evicted_keys and Entries the number of keys (metadata and chunks).
//
// The store is a store.Locker: a lease is a key PREFIX l:KEY set with NX to a random
// token for LeaseTTL, renewed every LeaseTTL/3 while its holder keeps it, and deleted
// by its holder only while it still holds that token (a Lua compare-and-delete), so a
// lease that lapsed and was taken by another process is never released by the first.
package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hop-http/hop/cache/store"
)

// Defaults.
const (
	DefaultChunkSize = 512 << 10
	DefaultEagerMax  = 1 << 20
	DefaultMaxEntry  = 256 << 20
	DefaultGrace     = time.Minute
	DefaultPrefix    = "hop:cache:"
	DefaultLeaseTTL  = 3 * time.Second
	recordHead       = 20 // gen u64, size i64, chunk u32
)

// Options configure a Store.
type Options struct {
	// URL is redis://[user:password@]HOST:PORT[/DB].
	URL string
	// Prefix of every key (default DefaultPrefix).
	Prefix string
	// ChunkSize is the size of body chunks (default DefaultChunkSize).
	ChunkSize int
	// EagerMax is the largest body read whole at Get (default DefaultEagerMax).
	EagerMax int64
	// MaxEntry bounds one entry (default DefaultMaxEntry).
	MaxEntry int64
	// Grace is how long chunks outlive their entry (default DefaultGrace).
	Grace time.Duration
	// Timeout bounds each Redis command (default 500 ms): a Redis that does not
	// answer makes the cache bypass it quickly rather than stall requests.
	Timeout time.Duration
	// LeaseTTL is how long a lease (TryLock) outlives a holder that stopped renewing
	// it, e.g. because its process died (default DefaultLeaseTTL).
	LeaseTTL time.Duration
}

// Store is a Redis store.Store.
type Store struct {
	c      *goredis.Client
	o      Options
	closed atomic.Bool
}

// Open connects to the Redis server of o.URL. It does not wait for the server: a
// Redis that is down makes operations fail until it is back.
func Open(o Options) (*Store, error) {
	ro, err := goredis.ParseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.EagerMax <= 0 {
		o.EagerMax = DefaultEagerMax
	}
	if o.MaxEntry <= 0 {
		o.MaxEntry = DefaultMaxEntry
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	ro.DialTimeout = o.Timeout
	ro.ReadTimeout = o.Timeout
	ro.WriteTimeout = o.Timeout
	ro.MaxRetries = -1
	ro.DialerRetries = 1
	// Waiting for a pooled connection is normal under a burst of requests: allow
	// longer than a command, and more connections than go-redis's default.
	ro.PoolTimeout = 4 * o.Timeout
	if ro.PoolSize == 0 {
		ro.PoolSize = 64
	}
	return &Store{c: goredis.NewClient(ro), o: o}, nil
}

func (s *Store) metaKey(k store.Key) string { return s.o.Prefix + "m:" + k.String() }

func (s *Store) chunkKey(k store.Key, gen uint64, i int) string {
	return s.o.Prefix + "b:" + k.String() + ":" + strconv.FormatUint(gen, 16) + ":" + strconv.Itoa(i)
}

// record is the decoded metadata key.
type record struct {
	gen   uint64
	size  int64
	chunk int
	meta  []byte
}

func (r *record) chunks() int {
	if r.size == 0 {
		return 0
	}
	return int((r.size + int64(r.chunk) - 1) / int64(r.chunk))
}

func parseRecord(b []byte) (record, bool) {
	if len(b) < recordHead {
		return record{}, false
	}
	r := record{
		gen:   binary.LittleEndian.Uint64(b),
		size:  int64(binary.LittleEndian.Uint64(b[8:])),
		chunk: int(binary.LittleEndian.Uint32(b[16:])),
		meta:  b[recordHead:],
	}
	return r, r.size >= 0 && r.chunk > 0
}

func appendRecord(b []byte, r *record) []byte {
	b = binary.LittleEndian.AppendUint64(b, r.gen)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.size))
	b = binary.LittleEndian.AppendUint32(b, uint32(r.chunk))
	return append(b, r.meta...)
}

func (s *Store) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.o.Timeout)
}

// Get implements store.Store.
func (s *Store) Get(parent context.Context, key store.Key) (store.Entry, error) {
	ctx, cancel := s.ctx(parent)
	defer cancel()
	b, err := s.c.Get(ctx, s.metaKey(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r, ok := parseRecord(b)
	if !ok {
		return nil, store.ErrNotFound
	}
	e := &entry{s: s, key: key, r: r, cur: -1}
	if r.size > s.o.EagerMax {
		return e, nil
	}
	n := r.chunks()
	cmds := make([]*goredis.StringCmd, n)
	pipe := s.c.Pipeline()
	for i := range n {
		cmds[i] = pipe.Get(ctx, s.chunkKey(key, r.gen, i))
	}
	if n > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			if errors.Is(err, goredis.Nil) {
				return nil, store.ErrNotFound // a chunk expired or was evicted
			}
			return nil, err
		}
	}
	body := make([]byte, 0, r.size)
	for _, c := range cmds {
		body = append(body, c.Val()...)
	}
	if int64(len(body)) != r.size {
		return nil, store.ErrNotFound
	}
	return &eagerEntry{r: r, body: body}, nil
}

// Create implements store.Store.
func (s *Store) Create(_ context.Context, key store.Key, meta []byte, size int64, ttl time.Duration) (store.Writer, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if int64(len(meta))+max(size, 0) > s.o.MaxEntry {
		return nil, store.ErrTooLarge
	}
	return &writer{
		s: s, key: key, size: size, ttl: ttl,
		r:   record{gen: rand.Uint64(), chunk: s.o.ChunkSize, meta: append([]byte(nil), meta...)},
		buf: make([]byte, 0, min(int64(s.o.ChunkSize), max(size, 4096))),
	}, nil
}

// Update implements store.Store.
func (s *Store) Update(parent context.Context, key store.Key, meta []byte, ttl time.Duration) error {
	ctx, cancel := s.ctx(parent)
	defer cancel()
	b, err := s.c.Get(ctx, s.metaKey(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	r, ok := parseRecord(b)
	if !ok {
		return store.ErrNotFound
	}
	r.meta = meta
	pipe := s.c.TxPipeline()
	for i := range r.chunks() {
		pipe.PExpire(ctx, s.chunkKey(key, r.gen, i), ttl+s.o.Grace)
	}
	pipe.Set(ctx, s.metaKey(key), appendRecord(nil, &r), ttl)
	_, err = pipe.Exec(ctx)
	return err
}

// Delete implements store.Store.
func (s *Store) Delete(parent context.Context, key store.Key) error {
	ctx, cancel := s.ctx(parent)
	defer cancel()
	b, err := s.c.GetDel(ctx, s.metaKey(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	s.retire(ctx, key, b)
	return nil
}

// retire shortens the life of the chunks of the old record b to Grace.
func (s *Store) retire(ctx context.Context, key store.Key, b []byte) {
	r, ok := parseRecord(b)
	if !ok || r.chunks() == 0 {
		return
	}
	pipe := s.c.Pipeline()
	for i := range r.chunks() {
		pipe.PExpire(ctx, s.chunkKey(key, r.gen, i), s.o.Grace)
	}
	pipe.Exec(ctx)
}

// Stats implements store.Store with Redis's own counters (see the package doc).
func (s *Store) Stats() store.Stats {
	ctx, cancel := s.ctx(context.Background())
	defer cancel()
	var st store.Stats
	if n, err := s.c.DBSize(ctx).Result(); err == nil {
		st.Entries = n
	}
	if info, err := s.c.Info(ctx, "memory", "stats").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			name, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch name {
			case "used_memory":
				st.Bytes = n
			case "evicted_keys":
				st.Evictions = n
			}
		}
	}
	return st
}

// The lease scripts: renew and release only while the key holds the holder's token.
var (
	renewLease = goredis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) end return 0`)
	dropLease  = goredis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)
)

// TryLock implements store.Locker (see the package doc).
func (s *Store) TryLock(parent context.Context, key store.Key) (func(), bool, error) {
	ctx, cancel := s.ctx(parent)
	defer cancel()
	lk := s.o.Prefix + "l:" + key.String()
	token := strconv.FormatUint(rand.Uint64(), 36)
	ok, err := s.c.SetNX(ctx, lk, token, s.o.LeaseTTL).Result()
	if err != nil || !ok {
		return nil, false, err
	}
	l := &lease{s: s, key: lk, token: token}
	l.mu.Lock()
	l.timer = time.AfterFunc(s.o.LeaseTTL/3, l.renew)
	l.mu.Unlock()
	return l.release, true, nil
}

// lease is a held lease, renewed until released.
type lease struct {
	s          *Store
	key, token string
	mu         sync.Mutex
	timer      *time.Timer
	released   bool
}

func (l *lease) renew() {
	ctx, cancel := l.s.ctx(context.Background())
	n, err := renewLease.Run(ctx, l.s.c, []string{l.key}, l.token, l.s.o.LeaseTTL.Milliseconds()).Int()
	cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.released && err == nil && n == 1 {
		l.timer.Reset(l.s.o.LeaseTTL / 3)
	}
}

func (l *lease) release() {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return
	}
	l.released = true
	l.timer.Stop()
	l.mu.Unlock()
	ctx, cancel := l.s.ctx(context.Background())
	defer cancel()
	dropLease.Run(ctx, l.s.c, []string{l.key}, l.token)
}

var _ store.Locker = (*Store)(nil)

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.c.Ping(ctx).Err()
}

// Close implements store.Store.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.c.Close()
}

// eagerEntry is an entry read whole at Get.
type eagerEntry struct {
	r    record
	body []byte
}

func (e *eagerEntry) Meta() []byte  { return e.r.meta }
func (e *eagerEntry) Size() int64   { return e.r.size }
func (e *eagerEntry) Close() error  { return nil }
func (e *eagerEntry) Bytes() []byte { return e.body }

// ReadAt implements io.ReaderAt.
func (e *eagerEntry) ReadAt(p []byte, off int64) (int, error) {
	return store.ReadBytesAt(e.body, p, off)
}

// entry is a large entry read chunk by chunk; it keeps the last chunk read.
type entry struct {
	s    *Store
	key  store.Key
	r    record
	mu   sync.Mutex // guards body and cur: ReadAt may be called in parallel
	body []byte     // chunk cur
	cur  int
}

func (e *entry) Meta() []byte { return e.r.meta }
func (e *entry) Size() int64  { return e.r.size }
func (e *entry) Close() error { return nil }

// ReadAt implements io.ReaderAt.
func (e *entry) ReadAt(p []byte, off int64) (int, error) {
	if off >= e.r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for n < len(p) && off < e.r.size {
		i := int(off / int64(e.r.chunk))
		if i != e.cur {
			ctx, cancel := e.s.ctx(context.Background())
			b, err := e.s.c.Get(ctx, e.s.chunkKey(e.key, e.r.gen, i)).Bytes()
			cancel()
			if err != nil {
				if errors.Is(err, goredis.Nil) {
					err = errChunkGone
				}
				return n, err
			}
			e.body, e.cur = b, i
		}
		c := copy(p[n:], e.body[off-int64(i)*int64(e.r.chunk):])
		if c == 0 {
			return n, errChunkGone // a chunk shorter than its place says
		}
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// errChunkGone is a body chunk evicted or expired while its metadata is still there.
var errChunkGone = fmt.Errorf("hop/cache/store/redis: body chunk missing: %w", store.ErrBodyLost)

var _ store.BytesEntry = (*eagerEntry)(nil)

type writer struct {
	s     *Store
	key   store.Key
	size  int64
	ttl   time.Duration
	r     record
	buf   []byte
	n     int64
	chunk int // chunks written
	err   error
	done  bool
}

func (w *writer) Write(p []byte) (int, error) {
	if err := store.CheckWrite(w.done, w.err, w.size, w.n, len(p), len(w.r.meta), w.s.o.MaxEntry); err != nil {
		if err != store.ErrClosed {
			w.err = err
		}
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		room := w.s.o.ChunkSize - len(w.buf)
		c := min(room, len(p))
		w.buf = append(w.buf, p[:c]...)
		p = p[c:]
		written += c
		w.n += int64(c)
		if len(w.buf) == w.s.o.ChunkSize {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// flush sends the buffered chunk.
func (w *writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	ctx, cancel := w.s.ctx(context.Background())
	defer cancel()
	if err := w.s.c.Set(ctx, w.s.chunkKey(w.key, w.r.gen, w.chunk), w.buf, w.ttl+w.s.o.Grace).Err(); err != nil {
		w.err = err
		return err
	}
	w.chunk++
	w.buf = w.buf[:0]
	return nil
}

func (w *writer) Commit() error {
	if w.done {
		return store.ErrClosed
	}
	w.done = true
	if w.err != nil {
		w.cleanup()
		return w.err
	}
	if w.size >= 0 && w.n != w.size {
		w.cleanup()
		return store.ErrIncomplete
	}
	if w.ttl <= 0 {
		w.cleanup()
		return w.s.Delete(context.Background(), w.key)
	}
	if err := w.flush(); err != nil {
		w.cleanup()
		return err
	}
	w.r.size = w.n
	ctx, cancel := w.s.ctx(context.Background())
	defer cancel()
	if w.chunk > 0 {
		// The chunks' lives were set as each was flushed: start them again with the
		// entry's, so that a body that streamed for longer than Grace does not lose
		// its first chunks before its metadata expires; one already gone (evicted
		// meanwhile) makes the entry incomplete, never visible.
		pipe := w.s.c.Pipeline()
		cmds := make([]*goredis.BoolCmd, w.chunk)
		for i := range cmds {
			cmds[i] = pipe.PExpire(ctx, w.s.chunkKey(w.key, w.r.gen, i), w.ttl+w.s.o.Grace)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			w.cleanup()
			return err
		}
		for _, c := range cmds {
			if !c.Val() {
				w.cleanup()
				return store.ErrIncomplete
			}
		}
	}
	old, err := w.s.c.SetArgs(ctx, w.s.metaKey(w.key), appendRecord(nil, &w.r), goredis.SetArgs{TTL: w.ttl, Get: true}).Bytes()
	if err != nil && !errors.Is(err, goredis.Nil) {
		w.cleanup()
		return err
	}
	if old != nil {
		w.s.retire(ctx, w.key, old)
	}
	return nil
}

func (w *writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cleanup()
}

// cleanup deletes the chunks already sent (best effort: they expire anyway).
func (w *writer) cleanup() {
	if w.chunk == 0 {
		return
	}
	ctx, cancel := w.s.ctx(context.Background())
	defer cancel()
	keys := make([]string, w.chunk)
	for i := range keys {
		keys[i] = w.s.chunkKey(w.key, w.r.gen, i)
	}
	w.s.c.Del(ctx, keys...)
	w.chunk = 0
}
