// Package store defines the storage interface of hop's cache: a small key → entry
// map with streaming bodies, which the memory, disk and Redis backends implement
// (sub-packages memory, disk and redis). It knows nothing of HTTP: an entry is an
// opaque metadata blob (the cache's encoding of the stored response head and its
// facts) and a body of known length.
//
// The contract every backend keeps, checked by package storetest:
//
//   - Create starts an entry; nothing is visible to Get until Commit.
//   - Commit succeeds only when the body written has exactly the size given to
//     Create (or, for size -1, whatever was written before Commit). A failed or
//     aborted write is never visible, and an older entry under the same key stays
//     visible until a newer one commits.
//   - Update replaces the metadata and TTL of a committed entry, keeping its body.
//   - An Entry returned by Get stays readable until Close, even when the key is
//     deleted or replaced meanwhile.
//   - Entries expire after their TTL; a store may drop any entry earlier (eviction).
//   - A store that can lose part of a committed body (Redis evicting one chunk) says
//     so with an error wrapping ErrBodyLost from ReadAt; the cache then deletes the
//     entry instead of serving it cut short again.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"time"
)

// Key identifies an entry: the first 16 bytes of the SHA-256 of the cache's key text.
// The full key text is kept in the entry's metadata, so a collision is detected by
// the cache, never served.
type Key [16]byte

// KeyOf returns the Key of a cache key text.
func KeyOf(text []byte) Key {
	sum := sha256.Sum256(text)
	var k Key
	copy(k[:], sum[:])
	return k
}

// String returns k in hexadecimal (file names, Redis keys).
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Errors of the store interface.
var (
	// ErrNotFound: no committed entry under the key.
	ErrNotFound = errors.New("hop/cache/store: not found")
	// ErrIncomplete: Commit with a body shorter or longer than declared.
	ErrIncomplete = errors.New("hop/cache/store: body length differs from the declared size")
	// ErrTooLarge: the entry exceeds the store's MaxEntry.
	ErrTooLarge = errors.New("hop/cache/store: entry too large for the store")
	// ErrClosed: the store or the writer is closed.
	ErrClosed = errors.New("hop/cache/store: closed")
	// ErrBodyLost: part of a committed entry's body is gone (evicted or expired
	// before its metadata); the entry can never be read whole again.
	ErrBodyLost = errors.New("hop/cache/store: part of the entry's body is gone")
)

// Store is a cache storage backend. Its methods are safe for concurrent use.
type Store interface {
	// Get returns the committed entry under key, or ErrNotFound. The caller must
	// Close it.
	Get(ctx context.Context, key Key) (Entry, error)
	// Create starts an entry of size body bytes (-1: unknown until Commit) with
	// metadata meta (copied) that lives for ttl after Commit.
	Create(ctx context.Context, key Key, meta []byte, size int64, ttl time.Duration) (Writer, error)
	// Update replaces the metadata and TTL of the committed entry under key.
	Update(ctx context.Context, key Key, meta []byte, ttl time.Duration) error
	// Delete removes the entry under key; deleting a missing key is not an error.
	Delete(ctx context.Context, key Key) error
	// Stats returns the store's counters.
	Stats() Stats
	// Close releases the store.
	Close() error
}

// Entry is a committed entry being read.
type Entry interface {
	// Meta returns the metadata; valid until Close, not to be modified.
	Meta() []byte
	// Size returns the body length.
	Size() int64
	// ReadAt reads body bytes at offset off. An error wrapping ErrBodyLost says the
	// body can no longer be read whole.
	io.ReaderAt
	// Close releases the entry.
	Close() error
}

// BytesEntry is implemented by entries whose body is in memory.
type BytesEntry interface {
	Entry
	// Bytes returns the whole body; not to be modified.
	Bytes() []byte
}

// FileEntry is implemented by entries whose body is a region of a file, so that it
// can be sent with sendfile.
type FileEntry interface {
	Entry
	// File returns the open file and the offset of the body in it. The file's own
	// offset belongs to the entry's reader: use it only through File's caller.
	File() (f *os.File, off int64)
}

// Locker is implemented by stores that several processes share (Redis). A lease on
// a key lets one process fetch a response nobody has stored yet while the others
// wait for it to be committed, so that concurrent misses for one key on many nodes
// make one upstream request. A lease is advisory and short-lived: the store keeps
// it alive while its holder runs, and it lapses by itself when the holder dies.
type Locker interface {
	// TryLock takes the lease on key unless another holder has it. On success it
	// returns the function that gives the lease back.
	TryLock(ctx context.Context, key Key) (unlock func(), ok bool, err error)
}

// Writer writes a new entry's body.
type Writer interface {
	io.Writer
	// Commit makes the entry visible. It fails with ErrIncomplete, and nothing
	// becomes visible, unless the body has the declared size.
	Commit() error
	// Abort discards the entry; after Commit it does nothing.
	Abort()
}

// Stats are a store's counters.
type Stats struct {
	Entries   int64 // committed entries held
	Bytes     int64 // bytes held (metadata and bodies)
	Evictions int64 // entries dropped to make room (not expirations or deletions)
}

// Reader returns an io.Reader over the whole body of e.
func Reader(e Entry) io.Reader { return io.NewSectionReader(e, 0, e.Size()) }

// ReadBytesAt is io.ReaderAt over a body held in memory, for backends whose entries
// are byte slices.
func ReadBytesAt(b, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	if off >= int64(len(b)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

var errNegativeOffset = errors.New("hop/cache/store: negative offset")

// minBodyGrow is the least a body buffer grows by (AppendBody).
const minBodyGrow = 32 << 10

// AppendBody appends p to b, a buffer that ends up holding a body of size bytes (-1:
// unknown). It grows with the bytes that arrive — doubling, by at least 32 KiB, never
// past size — instead of being allocated at the declared size up front, so that a
// head declaring a large Content-Length costs memory only as its body comes (many
// stalled responses declaring 8 MiB each cost next to nothing), and a complete body
// fills its buffer exactly.
func AppendBody(b, p []byte, size int64) []byte {
	if need := len(b) + len(p); need > cap(b) {
		c := max(2*cap(b), need, minBodyGrow)
		if size >= 0 && int64(c) > size {
			c = max(int(size), need)
		}
		nb := make([]byte, len(b), c)
		copy(nb, b)
		b = nb
	}
	return append(b, p...)
}

// CheckWrite is the guard a backend's Writer.Write starts with, before n more body
// bytes: ErrClosed after Commit or Abort, the writer's first error err again,
// ErrIncomplete past the declared size (-1: unknown), ErrTooLarge when metadata
// and body would pass maxEntry. The writer keeps any error but ErrClosed as its own.
func CheckWrite(done bool, err error, size, written int64, n, metaLen int, maxEntry int64) error {
	switch {
	case done:
		return ErrClosed
	case err != nil:
		return err
	case size >= 0 && written+int64(n) > size:
		return ErrIncomplete
	case int64(metaLen)+written+int64(n) > maxEntry:
		return ErrTooLarge
	}
	return nil
}
