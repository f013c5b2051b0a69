// Package disk is the on-disk backend of hop's cache store, the embedded default
// for hop proxy --cache-dir.
//
// Layout: one file per entry, DIR/xx/KEY.GEN (xx the first key byte in hex, GEN a
// generation number that grows with every write), holding a fixed header (magic,
// version, lengths, expiry time, a CRC-32C of header and metadata), the metadata and
// the body. Writes go to a temporary file in DIR/tmp and are renamed into place only
// after the whole body arrived at its declared length, so a crash (kill -9) at any
// moment leaves either the old entry, the new one complete, or nothing — never a
// partial entry. On start the index is rebuilt by reading every entry's header: files
// whose length disagrees with their header, whose CRC fails or that have expired are
// deleted, as is DIR/tmp; of several generations of one key the newest wins.
//
// Durability (fsync policy): by default nothing is fsynced. A process crash loses
// nothing committed (the kernel has the data); a power failure may lose entries
// committed in the last seconds, and the start-up checks drop any that were cut
// short. With Options.Sync, Commit fsyncs the file before the rename and the
// directory after it, so a committed entry survives power loss too.
//
// The index (key → file, in memory, with the metadata) is a
// github.com/maypok86/otter/v2 cache bounded by the bytes on disk; eviction,
// expiry, replacement and deletion remove the file. Bodies are served from the open
// file (store.FileEntry), which hop's server sends with sendfile. An entry opened by
// Get stays readable after it is deleted or replaced (the open file outlives its
// name).
//
// Small bodies are also kept in memory (up to Options.MemoryBodyMax each, at most
// Options.MemoryBytes in all), so that a hit on one costs no open, read and close:
// the copy is made as the entry is written (or at its first hit after a restart) and
// belongs to the index record of that one committed file — a generation — so a
// replaced, updated, evicted or deleted entry drops its copy with its record, and a
// later Get can never see a body of another generation. This plays the part of
// nginx's open_file_cache: the file stays the durable truth (written, renamed and
// rebuilt as above), the copy only saves system calls on hits.
package disk

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hop-http/hop/cache/store"
)

// Defaults.
const (
	DefaultMaxBytes = 1 << 30 // 1 GiB
	// DefaultMemoryBodyMax is the largest body kept in memory as well as on disk;
	// a larger one is sent from its file (sendfile), where an open per hit is small
	// beside the body.
	DefaultMemoryBodyMax = 16 << 10
	// DefaultMemoryBytes bounds the bodies kept in memory (at most MaxBytes/4).
	DefaultMemoryBytes = 64 << 20
	headerLen          = 40
	magic              = "HOPC"
	version            = 1
)

// Options configure a Store.
type Options struct {
	// MaxBytes bounds the bytes on disk (default DefaultMaxBytes).
	MaxBytes int64
	// MaxEntry bounds one entry (default MaxBytes/8).
	MaxEntry int64
	// Sync fsyncs every committed entry and its directory (see the package doc).
	Sync bool
	// MemoryBodyMax is the largest body also kept in memory (default
	// DefaultMemoryBodyMax; negative: none).
	MemoryBodyMax int64
	// MemoryBytes bounds the bodies kept in memory (default DefaultMemoryBytes, at
	// most MaxBytes/4; negative: none). A body that does not fit is read from its
	// file on every hit.
	MemoryBytes int64
}

// Store is an on-disk store.Store.
type Store struct {
	dir       string
	opts      Options
	idx       *otter.Cache[store.Key, *item]
	gen       atomic.Uint64
	bytes     atomic.Int64
	memBytes  atomic.Int64 // bytes of bodies held in memory
	evictions atomic.Int64
	closed    atomic.Bool
}

// item is the index record of one committed entry: one file, one generation.
type item struct {
	path    string
	meta    []byte
	size    int64 // body length
	fileLen int64
	expires time.Time
	// body is the body held in memory (small bodies), nil until it is kept, then
	// never changed (an entry returned by Get reads it until Close). mem says
	// whether its bytes count in Store.memBytes; dead is set when the record left
	// the index, which releases them (the record and its copy are then garbage once
	// the last entry reading them is closed).
	body atomic.Pointer[[]byte]
	mem  atomic.Uint32 // memNone, memKept, memReleased
	dead atomic.Bool
}

const (
	memNone = iota
	memKept
	memReleased
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Open opens (creating it if needed) the cache directory dir and rebuilds the index
// from the entries in it.
func Open(dir string, o Options) (*Store, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntry <= 0 {
		o.MaxEntry = o.MaxBytes / 8
	}
	switch {
	case o.MemoryBodyMax == 0:
		o.MemoryBodyMax = DefaultMemoryBodyMax
	case o.MemoryBodyMax < 0:
		o.MemoryBodyMax = -1
	}
	switch {
	case o.MemoryBytes == 0:
		o.MemoryBytes = min(DefaultMemoryBytes, o.MaxBytes/4)
	case o.MemoryBytes < 0:
		o.MemoryBytes, o.MemoryBodyMax = 0, -1
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: o}
	s.idx = otter.Must(&otter.Options[store.Key, *item]{
		MaximumWeight: uint64(max(1, o.MaxBytes>>10)),
		Weigher:       func(_ store.Key, it *item) uint32 { return uint32(max(1, (it.fileLen+1023)>>10)) },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[store.Key, *item]) time.Duration {
			return time.Until(e.Value.expires)
		}),
		OnAtomicDeletion: func(e otter.DeletionEvent[store.Key, *item]) {
			if e.Cause == otter.CauseOverflow {
				s.evictions.Add(1)
			}
		},
		OnDeletion: func(e otter.DeletionEvent[store.Key, *item]) {
			s.bytes.Add(-e.Value.fileLen)
			s.drop(e.Value)
			os.Remove(e.Value.path)
		},
	})
	if err := s.rebuild(); err != nil {
		s.idx.StopAllGoroutines()
		return nil, err
	}
	return s, nil
}

// rebuild empties DIR/tmp and indexes the entry files.
func (s *Store) rebuild() error {
	tmp := filepath.Join(s.dir, "tmp")
	names, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, n := range names {
		os.Remove(filepath.Join(tmp, n.Name()))
	}
	subdirs, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	type found struct {
		gen uint64
		it  *item
	}
	best := map[store.Key]found{}
	now := time.Now()
	for _, sd := range subdirs {
		if !sd.IsDir() || len(sd.Name()) != 2 {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.dir, sd.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			path := filepath.Join(s.dir, sd.Name(), f.Name())
			key, gen, ok := parseName(f.Name())
			if !ok {
				os.Remove(path)
				continue
			}
			s.gen.Store(max(s.gen.Load(), gen))
			it, err := readItem(path)
			if err != nil || !it.expires.After(now) {
				os.Remove(path) // partial, corrupt or expired
				continue
			}
			if old, dup := best[key]; dup {
				if old.gen > gen {
					os.Remove(path)
					continue
				}
				os.Remove(old.it.path)
			}
			best[key] = found{gen, it}
		}
	}
	for key, f := range best {
		s.bytes.Add(f.it.fileLen)
		s.idx.Set(key, f.it)
	}
	return nil
}

// parseName parses KEY.GEN.
func parseName(name string) (store.Key, uint64, bool) {
	var k store.Key
	hexKey, genText, ok := strings.Cut(name, ".")
	if !ok || len(hexKey) != 2*len(k) {
		return k, 0, false
	}
	if _, err := hex.Decode(k[:], []byte(hexKey)); err != nil {
		return k, 0, false
	}
	gen, err := strconv.ParseUint(genText, 10, 64)
	return k, gen, err == nil
}

// readItem reads and checks the header and metadata of an entry file.
func readItem(path string) (*item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var h [headerLen]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return nil, errCorrupt
	}
	metaLen, size, expires, ok := parseHeader(h[:])
	if !ok || fi.Size() != headerLen+int64(metaLen)+size {
		return nil, errCorrupt
	}
	meta := make([]byte, metaLen)
	if _, err := io.ReadFull(f, meta); err != nil {
		return nil, errCorrupt
	}
	c := crc32.Update(crc32.Checksum(h[:36], castagnoli), castagnoli, meta)
	if c != binary.LittleEndian.Uint32(h[36:]) {
		return nil, errCorrupt
	}
	return &item{path: path, meta: meta, size: size, fileLen: fi.Size(), expires: expires}, nil
}

var errCorrupt = errors.New("hop/cache/store/disk: corrupt entry")

// Header: magic[4] version[1] pad[3] metaLen u32 size u64 expires i64 (unix ns)
// reserved[8] crc u32 (CRC-32C of bytes 0..35 and the metadata).
func appendHeader(b []byte, metaLen int, size int64, expires time.Time) []byte {
	b = append(b, magic...)
	b = append(b, version, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(metaLen))
	b = binary.LittleEndian.AppendUint64(b, uint64(size))
	b = binary.LittleEndian.AppendUint64(b, uint64(expires.UnixNano()))
	b = append(b, make([]byte, 8)...)
	return b
}

func parseHeader(h []byte) (metaLen uint32, size int64, expires time.Time, ok bool) {
	if string(h[:4]) != magic || h[4] != version {
		return 0, 0, time.Time{}, false
	}
	metaLen = binary.LittleEndian.Uint32(h[8:])
	size = int64(binary.LittleEndian.Uint64(h[12:]))
	expires = time.Unix(0, int64(binary.LittleEndian.Uint64(h[20:])))
	return metaLen, size, expires, size >= 0
}

func (s *Store) finalPath(key store.Key, gen uint64) string {
	hk := key.String()
	return filepath.Join(s.dir, hk[:2], hk+"."+strconv.FormatUint(gen, 10))
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, key store.Key) (store.Entry, error) {
	it, ok := s.idx.GetIfPresent(key)
	if !ok {
		return nil, store.ErrNotFound
	}
	if it.body.Load() != nil {
		return (*memEntry)(it), nil
	}
	f, err := os.Open(it.path)
	if err != nil {
		// Removed under us (replaced or deleted between lookup and open).
		return nil, store.ErrNotFound
	}
	e := &entry{it: it, f: f, off: headerLen + int64(len(it.meta))}
	if it.size <= s.opts.MemoryBodyMax && s.memBytes.Load()+it.size <= s.opts.MemoryBytes {
		// A small body not in memory yet (the store was reopened, or memory was
		// short when it was written): read it once, keep it, serve it from there.
		b := make([]byte, it.size)
		if n, err := f.ReadAt(b, e.off); n == len(b) && (err == nil || err == io.EOF) && s.keep(it, b) {
			f.Close()
			return (*memEntry)(it), nil
		}
	}
	return e, nil
}

// keep makes body (it.size bytes) the in-memory copy of it's body when the memory
// bound allows. It reports whether the record holds a copy now (this one or another
// caller's).
func (s *Store) keep(it *item, body []byte) bool {
	if it.body.Load() != nil {
		return true
	}
	n := int64(len(body))
	if s.memBytes.Add(n) > s.opts.MemoryBytes {
		s.memBytes.Add(-n)
		return false
	}
	if !it.body.CompareAndSwap(nil, &body) {
		s.memBytes.Add(-n) // another Get kept it first
		return true
	}
	it.mem.Store(memKept)
	if it.dead.Load() {
		s.release(it) // the record left the index meanwhile
	}
	return true
}

// release takes a record's copy out of the memory count, once.
func (s *Store) release(it *item) {
	if it.mem.CompareAndSwap(memKept, memReleased) {
		s.memBytes.Add(-it.size)
	}
}

// drop is called when a record leaves the index.
func (s *Store) drop(it *item) {
	it.dead.Store(true)
	s.release(it)
}

// MemoryBytes returns the bytes of bodies held in memory.
func (s *Store) MemoryBytes() int64 { return s.memBytes.Load() }

// Create implements store.Store.
func (s *Store) Create(_ context.Context, key store.Key, meta []byte, size int64, ttl time.Duration) (store.Writer, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if int64(len(meta))+max(size, 0) > s.opts.MaxEntry {
		return nil, store.ErrTooLarge
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "w")
	if err != nil {
		return nil, err
	}
	w := &writer{s: s, key: key, f: f, size: size, ttl: ttl, meta: append([]byte(nil), meta...)}
	if size <= s.opts.MemoryBodyMax {
		w.mem = make([]byte, 0, max(size, 0)) // the copy kept in memory at Commit
	}
	w.bw = bufio.NewWriterSize(f, 64<<10)
	// The header is rewritten at Commit, when the length and expiry are final.
	w.bw.Write(make([]byte, headerLen))
	w.bw.Write(meta)
	return w, nil
}

// Update implements store.Store: the entry is rewritten with the new metadata (the
// body copied in the kernel with copy_file_range where available).
func (s *Store) Update(ctx context.Context, key store.Key, meta []byte, ttl time.Duration) error {
	e, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	defer e.Close()
	w, err := s.Create(ctx, key, meta, e.Size(), ttl)
	if err != nil {
		return err
	}
	ww := w.(*writer)
	if err := ww.bw.Flush(); err != nil {
		w.Abort()
		return err
	}
	var n int64
	switch de := e.(type) {
	case *entry:
		n, err = io.Copy(ww.f, io.NewSectionReader(de.f, de.off, e.Size()))
	case *memEntry:
		var m int
		m, err = ww.f.Write(de.Bytes())
		n = int64(m)
		ww.mem = de.Bytes() // the body is unchanged: the new generation keeps the copy
	}
	ww.n = n
	if err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// Delete implements store.Store.
func (s *Store) Delete(_ context.Context, key store.Key) error {
	s.idx.Invalidate(key)
	return nil
}

// Stats implements store.Store.
func (s *Store) Stats() store.Stats {
	return store.Stats{Entries: int64(s.idx.EstimatedSize()), Bytes: s.bytes.Load(), Evictions: s.evictions.Load()}
}

// Close implements store.Store. Committed entries stay on disk for the next Open.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.idx.StopAllGoroutines()
	return nil
}

// entry is an entry read from its file.
type entry struct {
	it  *item
	f   *os.File
	off int64
}

// memEntry is an entry whose body is held in memory (store.BytesEntry): Get
// returns the record itself, no file is opened.
type memEntry item

func (e *memEntry) Meta() []byte  { return e.meta }
func (e *memEntry) Size() int64   { return e.size }
func (e *memEntry) Close() error  { return nil }
func (e *memEntry) Bytes() []byte { return *e.body.Load() }
func (e *memEntry) ReadAt(p []byte, off int64) (int, error) {
	return store.ReadBytesAt(e.Bytes(), p, off)
}

func (e *entry) Meta() []byte                            { return e.it.meta }
func (e *entry) Size() int64                             { return e.it.size }
func (e *entry) Close() error                            { return e.f.Close() }
func (e *entry) File() (*os.File, int64)                 { return e.f, e.off }
func (e *entry) ReadAt(p []byte, off int64) (int, error) { return readAt(e, p, off) }

func readAt(e *entry, p []byte, off int64) (int, error) {
	if off >= e.it.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	if rest := e.it.size - off; int64(len(p)) > rest {
		n, err := e.f.ReadAt(p[:rest], e.off+off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return e.f.ReadAt(p, e.off+off)
}

type writer struct {
	s    *Store
	key  store.Key
	f    *os.File
	bw   *bufio.Writer
	meta []byte
	size int64
	ttl  time.Duration
	n    int64
	err  error
	done bool
	// mem collects a small body to keep in memory at Commit (nil when the body is
	// too large for that).
	mem []byte
}

func (w *writer) Write(p []byte) (int, error) {
	if err := store.CheckWrite(w.done, w.err, w.size, w.n, len(p), len(w.meta), w.s.opts.MaxEntry); err != nil {
		if err != store.ErrClosed {
			w.err = err
		}
		return 0, err
	}
	if w.mem != nil {
		if int64(len(w.mem)+len(p)) <= w.s.opts.MemoryBodyMax {
			w.mem = append(w.mem, p...)
		} else {
			w.mem = nil
		}
	}
	n, err := w.bw.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

func (w *writer) Commit() (err error) {
	if w.done {
		return store.ErrClosed
	}
	w.done = true
	defer func() {
		if err != nil {
			w.f.Close()
			os.Remove(w.f.Name())
		}
	}()
	if w.err != nil {
		return w.err
	}
	if w.size >= 0 && w.n != w.size {
		return store.ErrIncomplete
	}
	if w.s.closed.Load() {
		return store.ErrClosed
	}
	if w.ttl <= 0 { // expired on arrival: nothing to keep
		w.s.idx.Invalidate(w.key)
		w.f.Close()
		os.Remove(w.f.Name())
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	expires := time.Now().Add(w.ttl)
	h := appendHeader(make([]byte, 0, headerLen), len(w.meta), w.n, expires)
	h = binary.LittleEndian.AppendUint32(h, crc32.Update(crc32.Checksum(h, castagnoli), castagnoli, w.meta))
	if _, err := w.f.WriteAt(h, 0); err != nil {
		return err
	}
	if w.s.opts.Sync {
		if err := w.f.Sync(); err != nil {
			return err
		}
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	gen := w.s.gen.Add(1)
	path := w.s.finalPath(w.key, gen)
	if err := os.Rename(w.f.Name(), path); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.Rename(w.f.Name(), path); err != nil {
			return err
		}
	}
	if w.s.opts.Sync {
		syncDir(filepath.Dir(path))
	}
	fileLen := headerLen + int64(len(w.meta)) + w.n
	w.s.bytes.Add(fileLen)
	it := &item{path: path, meta: w.meta, size: w.n, fileLen: fileLen, expires: expires}
	if w.mem != nil && int64(len(w.mem)) == w.n {
		w.s.keep(it, w.mem)
	}
	w.s.idx.Set(w.key, it)
	return nil
}

func (w *writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
