package disk

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.TempDir(), Options{MaxBytes: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func commit(t *testing.T, s *Store, key store.Key, meta, body string) {
	t.Helper()
	w, err := s.Create(context.Background(), key, []byte(meta), int64(len(body)), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Committed entries survive a reopen; writes in progress, truncated and corrupt
// files do not, and are removed.
func TestRebuild(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := store.KeyOf([]byte("a")), store.KeyOf([]byte("b")), store.KeyOf([]byte("c"))
	commit(t, s, a, "meta-a", "body-a")
	commit(t, s, b, "meta-b", "body-b-longer")
	commit(t, s, c, "meta-c", "body-c")
	// A write left in progress, as a crash would leave it.
	w, _ := s.Create(context.Background(), store.KeyOf([]byte("d")), []byte("m"), 100, time.Hour)
	w.Write([]byte("partial"))
	w.(*writer).bw.Flush()
	// Cut b's file short and flip a metadata byte of c's.
	ib, _ := s.idx.GetIfPresent(b)
	if err := os.Truncate(ib.path, ib.fileLen-3); err != nil {
		t.Fatal(err)
	}
	ic, _ := s.idx.GetIfPresent(c)
	f, _ := os.OpenFile(ic.path, os.O_RDWR, 0)
	f.WriteAt([]byte("X"), headerLen+1)
	f.Close()
	s.Close()

	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	e, err := s2.Get(context.Background(), a)
	if err != nil {
		t.Fatalf("committed entry lost on reopen: %v", err)
	}
	e.Close()
	for _, k := range []store.Key{b, c, store.KeyOf([]byte("d"))} {
		if _, err := s2.Get(context.Background(), k); err != store.ErrNotFound {
			t.Errorf("damaged or partial entry %s indexed: %v", k, err)
		}
	}
	for _, p := range []string{ib.path, ic.path} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not removed", p)
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(tmp) != 0 {
		t.Errorf("tmp holds %d files after reopen", len(tmp))
	}
	// Generations keep growing across reopens, so a new write wins over old files.
	commit(t, s2, a, "meta-a2", "new")
	s2.Close()
	s3, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	e, err = s3.Get(context.Background(), a)
	if err != nil || string(e.Meta()) != "meta-a2" {
		t.Fatalf("after rewrite and reopen: %v %q", err, e.Meta())
	}
	e.Close()
}

// Small bodies are served from memory: no file is opened on a hit, the copy follows
// the committed generation (replaced, updated, deleted), the memory bound holds, and
// after a reopen the first hit reads the file once and keeps it.
func TestSmallBodiesInMemory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{MemoryBodyMax: 100, MemoryBytes: 250})
	if err != nil {
		t.Fatal(err)
	}
	small, big := store.KeyOf([]byte("small")), store.KeyOf([]byte("big"))
	commit(t, s, small, "m1", "first body")
	commit(t, s, big, "mb", string(make([]byte, 101)))
	get := func(s *Store, k store.Key) store.Entry {
		t.Helper()
		e, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	body := func(e store.Entry) string {
		b := make([]byte, e.Size())
		n, _ := e.ReadAt(b, 0)
		return string(b[:n])
	}
	e := get(s, small)
	if _, ok := e.(store.BytesEntry); !ok || body(e) != "first body" || string(e.Meta()) != "m1" {
		t.Fatalf("small entry: %T %q %q, want an in-memory entry", e, body(e), e.Meta())
	}
	if _, ok := get(s, big).(store.FileEntry); !ok {
		t.Errorf("a body over MemoryBodyMax is not served from its file")
	}
	if got := settle(s, 10); got != 10 {
		t.Errorf("MemoryBytes %d, want 10", got)
	}
	// A new generation replaces the copy; the entry opened before keeps the old one.
	commit(t, s, small, "m2", "second body!")
	if e2 := get(s, small); body(e2) != "second body!" || string(e2.Meta()) != "m2" {
		t.Errorf("after a rewrite: %q %q", body(e2), e2.Meta())
	}
	if body(e) != "first body" {
		t.Errorf("an entry opened before the rewrite now reads %q", body(e))
	}
	// Update keeps the body (and its copy) under new metadata.
	if err := s.Update(ctx, small, []byte("m3"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if e3 := get(s, small); body(e3) != "second body!" || string(e3.Meta()) != "m3" {
		t.Errorf("after Update: %q %q", body(e3), e3.Meta())
	}
	if got := settle(s, 12); got != 12 {
		t.Errorf("MemoryBytes after rewrite and update %d, want 12", got)
	}
	// The bound: 250 bytes hold two more 100-byte bodies, not three.
	var keys []store.Key
	for i := range 3 {
		k := store.KeyOf([]byte{byte(i)})
		keys = append(keys, k)
		commit(t, s, k, "m", string(make([]byte, 100)))
	}
	inMem := 0
	for _, k := range keys {
		if _, ok := get(s, k).(store.BytesEntry); ok {
			inMem++
		}
	}
	if inMem != 2 || s.MemoryBytes() > 250 {
		t.Errorf("%d of three 100-byte bodies in memory (%d bytes) under a 250-byte bound", inMem, s.MemoryBytes())
	}
	for _, k := range append(keys, small) {
		s.Delete(ctx, k)
	}
	if got := settle(s, 0); got != 0 {
		t.Errorf("MemoryBytes after deleting everything small: %d", got)
	}
	commit(t, s, small, "m4", "durable")
	s.Close()

	// Reopened: the first hit reads the file once and keeps the copy.
	s2, err := Open(dir, Options{MemoryBodyMax: 100, MemoryBytes: 250})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.MemoryBytes() != 0 {
		t.Errorf("bodies read into memory at Open")
	}
	if e := get(s2, small); body(e) != "durable" {
		t.Errorf("after reopen: %q", body(e))
	}
	if _, ok := get(s2, small).(store.BytesEntry); !ok || s2.MemoryBytes() != 7 {
		t.Errorf("second hit after reopen not from memory (%d bytes held)", s2.MemoryBytes())
	}
}

// A small-body hit opens no file and allocates nothing.
func TestSmallHitAllocs(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := store.KeyOf([]byte("k"))
	commit(t, s, k, "meta", "hello")
	allocs := testing.AllocsPerRun(100, func() {
		e, err := s.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
	})
	if allocs != 0 {
		t.Errorf("small hit: %v allocs", allocs)
	}
}

// settle waits (boundedly) for MemoryBytes to reach want: the index releases replaced
// and deleted records through its deletion callback, which may run a moment later.
func settle(s *Store, want int64) int64 {
	for end := time.Now().Add(5 * time.Second); s.MemoryBytes() != want && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	return s.MemoryBytes()
}
