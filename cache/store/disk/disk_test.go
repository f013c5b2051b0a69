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
