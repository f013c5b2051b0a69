// Package memory is the in-memory backend of hop's cache store: entries held in a
// github.com/maypok86/otter/v2 cache bounded in bytes (metadata plus body plus a
// fixed per-entry overhead), whose W-TinyLFU admission and eviction keep frequently
// used entries when a scan of one-off URLs passes through. Bodies are byte slices,
// so a hit is served without copying through a reader (store.BytesEntry).
package memory

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hop-http/hop/cache/store"
)

// Defaults.
const (
	DefaultMaxBytes = 256 << 20 // 256 MiB
	// entryOverhead approximates the bookkeeping bytes of one entry (otter node,
	// entry struct, slice headers).
	entryOverhead = 160
)

// Options configure a Store.
type Options struct {
	// MaxBytes bounds the bytes held (default DefaultMaxBytes).
	MaxBytes int64
	// MaxEntry bounds one entry (default MaxBytes/8, at most 4 GiB).
	MaxEntry int64
}

// Store is an in-memory store.Store.
type Store struct {
	c         *otter.Cache[store.Key, *entry]
	maxEntry  int64
	evictions atomic.Int64
	closed    atomic.Bool
}

type entry struct {
	meta []byte
	body []byte
	ttl  time.Duration
}

// New returns an empty Store.
func New(o Options) *Store {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntry <= 0 {
		o.MaxEntry = o.MaxBytes / 8
	}
	o.MaxEntry = min(o.MaxEntry, 1<<32-1-entryOverhead-64<<10)
	s := &Store{maxEntry: o.MaxEntry}
	s.c = otter.Must(&otter.Options[store.Key, *entry]{
		MaximumWeight: uint64(o.MaxBytes),
		Weigher:       func(_ store.Key, e *entry) uint32 { return e.weight() },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[store.Key, *entry]) time.Duration {
			return e.Value.ttl
		}),
		OnAtomicDeletion: func(e otter.DeletionEvent[store.Key, *entry]) {
			if e.Cause == otter.CauseOverflow {
				s.evictions.Add(1)
			}
		},
	})
	return s
}

func (e *entry) weight() uint32 { return uint32(len(e.meta) + len(e.body) + entryOverhead) }

// Get implements store.Store.
func (s *Store) Get(_ context.Context, key store.Key) (store.Entry, error) {
	if e, ok := s.c.GetIfPresent(key); ok {
		return e, nil
	}
	return nil, store.ErrNotFound
}

// Create implements store.Store.
func (s *Store) Create(_ context.Context, key store.Key, meta []byte, size int64, ttl time.Duration) (store.Writer, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if int64(len(meta))+max(size, 0) > s.maxEntry {
		return nil, store.ErrTooLarge
	}
	w := &writer{s: s, key: key, size: size, ttl: ttl}
	w.e.meta = append([]byte(nil), meta...)
	return w, nil // the body grows as it is written (store.AppendBody)
}

// Update implements store.Store.
func (s *Store) Update(_ context.Context, key store.Key, meta []byte, ttl time.Duration) error {
	old, ok := s.c.GetIfPresent(key)
	if !ok {
		return store.ErrNotFound
	}
	s.c.Set(key, &entry{meta: append([]byte(nil), meta...), body: old.body, ttl: ttl})
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(_ context.Context, key store.Key) error {
	s.c.Invalidate(key)
	return nil
}

// Stats implements store.Store.
func (s *Store) Stats() store.Stats {
	return store.Stats{
		Entries:   int64(s.c.EstimatedSize()),
		Bytes:     int64(s.c.WeightedSize()),
		Evictions: s.evictions.Load(),
	}
}

// Close implements store.Store: it drops every entry and stops otter's goroutines.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.c.InvalidateAll()
	s.c.StopAllGoroutines()
	return nil
}

// Meta implements store.Entry.
func (e *entry) Meta() []byte { return e.meta }

// Size implements store.Entry.
func (e *entry) Size() int64 { return int64(len(e.body)) }

// Bytes implements store.BytesEntry.
func (e *entry) Bytes() []byte { return e.body }

// ReadAt implements io.ReaderAt.
func (e *entry) ReadAt(p []byte, off int64) (int, error) {
	return store.ReadBytesAt(e.body, p, off)
}

// Close implements store.Entry; the body stays valid (it is garbage collected).
func (e *entry) Close() error { return nil }

type writer struct {
	s    *Store
	key  store.Key
	size int64
	ttl  time.Duration
	e    entry
	err  error
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	if err := store.CheckWrite(w.done, w.err, w.size, int64(len(w.e.body)), len(p), len(w.e.meta), w.s.maxEntry); err != nil {
		if err != store.ErrClosed {
			w.err = err
		}
		return 0, err
	}
	w.e.body = store.AppendBody(w.e.body, p, w.size)
	return len(p), nil
}

func (w *writer) Commit() error {
	if w.done {
		return store.ErrClosed
	}
	w.done = true
	if w.err != nil {
		return w.err
	}
	if w.size >= 0 && int64(len(w.e.body)) != w.size {
		return store.ErrIncomplete
	}
	if w.s.closed.Load() {
		return store.ErrClosed
	}
	e := &entry{meta: w.e.meta, body: w.e.body, ttl: w.ttl}
	w.e = entry{}
	if w.ttl <= 0 {
		w.s.c.Invalidate(w.key)
		return nil
	}
	w.s.c.Set(w.key, e)
	return nil
}

func (w *writer) Abort() {
	w.done = true
	w.e = entry{}
}
