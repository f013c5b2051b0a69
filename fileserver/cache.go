package fileserver

import (
	"errors"
	"io/fs"
	"syscall"
	"time"

	"github.com/hop-http/hop/internal/clock"
	"github.com/maypok86/otter/v2"
)

// The open-file cache, as nginx's open_file_cache: what opening a path found — a
// small regular file's metadata and contents, a directory, or that nothing is there —
// is kept for CacheValid and trusted for that long. A hot small file is then served
// with no system call at all (no openat2, fstat, pread and close per request, and
// none of the runtime's work around blocking system calls); when its entry is older
// than CacheValid (on the coarse clock) the next request opens the path again and
// refreshes it, so a change to the tree is seen within CacheValid. Of a file larger
// than cacheMaxFile only the size and modification time are kept: it goes out by
// sendfile from a fresh descriptor, and one found unchanged within CacheValid was
// sent a moment ago, so it is in the page cache (file.PageCached) and its sendfile
// cannot wait for the disk. A directory's descriptor is not kept either (a listing
// opens it again); of errors, only "does not exist" is. Memory is bounded by
// CacheBytes (github.com/maypok86/otter/v2).

// Defaults for the cache's zero-valued Options.
const (
	// DefaultCacheValid is how long an entry of the open-file cache is trusted.
	DefaultCacheValid = time.Second
	// DefaultCacheBytes bounds the memory of the open-file cache.
	DefaultCacheBytes = 16 << 20
)

// cacheMaxFile is the largest file whose contents are cached: the size up to which a
// body is written from memory rather than sent with sendfile anyway.
const cacheMaxFile = smallBody

// cacheOverhead is the weight of an entry beyond its path and contents.
const cacheOverhead = 160

// cached is what opening one path found.
type cached struct {
	missing bool // nothing there (ENOENT or ENOTDIR)
	dir     bool
	large   bool // a file larger than cacheMaxFile: metadata only
	size    int64
	mod     time.Time
	data    []byte // a regular file's contents
	ctype   string // a regular file's Content-Type
	expires int64  // Unix nanoseconds (coarse clock) after which the path is opened again
}

// newCache returns the cache the options ask for, or nil when it is off.
func newCache(opts *Options) *otter.Cache[string, *cached] {
	if opts.CacheValid < 0 || opts.CacheBytes < 0 {
		return nil
	}
	return otter.Must(&otter.Options[string, *cached]{
		MaximumWeight: uint64(opts.CacheBytes),
		Weigher: func(k string, e *cached) uint32 {
			return uint32(len(k) + len(e.data) + cacheOverhead)
		},
	})
}

// errMissingCached is what open returns for a path the cache knows does not exist.
var errMissingCached = syscall.ENOENT

// open opens rel (a cleaned, slash-separated path relative to the root) through the
// open-file cache: a fresh entry answers without touching the file system; otherwise
// the path is opened (openFile) and what was found is cached. A small regular file
// comes back as its contents in memory, with no descriptor.
func (h *Handler) open(rel string) (*file, error) {
	if h.cache == nil {
		return h.openFile(rel)
	}
	now := clock.Now().UnixNano()
	e, hit := h.cache.GetIfPresent(rel)
	hit = hit && now < e.expires
	if hit && !e.large {
		if e.missing {
			return nil, &fs.PathError{Op: "open", Path: rel, Err: errMissingCached}
		}
		return &file{fd: -1, name: rel, size: e.size, mod: e.mod, dir: e.dir, h: h, data: e.data,
			ctype: e.ctype, cached: true}, nil
	}
	expires := now + int64(h.opts.CacheValid)
	f, err := h.openFile(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			h.cache.Set(rel, &cached{missing: true, expires: expires})
		}
		return nil, err
	}
	switch {
	case f.dir:
		h.cache.Set(rel, &cached{dir: true, mod: f.mod, expires: expires})
		return f, nil
	case f.size > cacheMaxFile:
		if hit && e.large && e.size == f.size && e.mod.Equal(f.mod) {
			f.pageCached = true // opened unchanged within CacheValid: sent a moment ago
		} else {
			h.cache.Set(rel, &cached{large: true, size: f.size, mod: f.mod, expires: expires})
		}
		return f, nil
	}
	data := make([]byte, f.size)
	if n, _ := f.ReadAt(data, 0); n < len(data) {
		// The file shrank or cannot be read: serve from the descriptor, which reports
		// it as before, and cache nothing.
		h.cache.Invalidate(rel)
		return f, nil
	}
	e = &cached{size: f.size, mod: f.mod, data: data, expires: expires}
	e.ctype = contentType(rel, f, f.size)
	f.Close()
	h.cache.Set(rel, e)
	return &file{fd: -1, name: rel, size: e.size, mod: e.mod, h: h, data: e.data, ctype: e.ctype, cached: true}, nil
}
