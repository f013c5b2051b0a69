// Package storetest checks that a store.Store backend keeps the contract of package
// store: entries visible only after Commit at the declared length, aborted and
// short writes never visible, Update keeping the body, Delete, expiry, entries
// readable until Close, and consistent entries under concurrent writers and
// readers. Backend tests call Run with a constructor.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/cache/store"
)

// Run runs the contract tests against stores made by open. Each subtest gets a
// fresh store (open is called once per subtest) and closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	key := store.KeyOf([]byte("http://example.test/a"))
	other := store.KeyOf([]byte("http://example.test/b"))

	t.Run("roundtrip", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "meta-1", "hello, world", 12)
		expect(t, s, key, "meta-1", "hello, world")
		if _, err := s.Get(ctx, other); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(other) = %v, want ErrNotFound", err)
		}
	})

	t.Run("invisible until commit", func(t *testing.T) {
		s := open(t)
		w, err := s.Create(ctx, key, []byte("m"), 4, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("abcd"))
		if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get before Commit = %v, want ErrNotFound", err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		expect(t, s, key, "m", "abcd")
	})

	t.Run("short body never visible", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "old", "old body", 8)
		w, err := s.Create(ctx, key, []byte("new"), 10, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("12345"))
		if err := w.Commit(); !errors.Is(err, store.ErrIncomplete) {
			t.Errorf("Commit of 5 of 10 bytes = %v, want ErrIncomplete", err)
		}
		expect(t, s, key, "old", "old body")
	})

	t.Run("long body never visible", func(t *testing.T) {
		s := open(t)
		w, err := s.Create(ctx, key, []byte("new"), 3, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("12"))
		if _, err := w.Write([]byte("34")); err == nil {
			t.Error("Write past the declared size succeeded")
		}
		if err := w.Commit(); err == nil {
			t.Error("Commit after an overrun succeeded")
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get = %v, want ErrNotFound", err)
		}
	})

	t.Run("abort", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "old", "kept", 4)
		w, err := s.Create(ctx, key, []byte("new"), 3, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("new"))
		w.Abort()
		if err := w.Commit(); err == nil {
			t.Error("Commit after Abort succeeded")
		}
		expect(t, s, key, "old", "kept")
	})

	t.Run("unknown size", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "m", "chunked body", -1)
		expect(t, s, key, "m", "chunked body")
	})

	t.Run("empty body", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "m", "", 0)
		expect(t, s, key, "m", "")
	})

	t.Run("large body", func(t *testing.T) {
		s := open(t)
		body := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16) // 300 KiB: several chunks
		w, err := s.Create(ctx, key, []byte("big"), int64(len(body)), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for p := body; len(p) > 0; {
			n := min(len(p), 7000)
			if _, err := w.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		expect(t, s, key, "big", string(body))
		e, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		p := make([]byte, 10)
		if n, err := e.ReadAt(p, 100000); n != 10 || err != nil || !bytes.Equal(p, body[100000:100010]) {
			t.Errorf("ReadAt(100000) = %d, %v, %q", n, err, p)
		}
	})

	t.Run("update keeps body", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "m1", "body", 4)
		if err := s.Update(ctx, key, []byte("m2"), time.Hour); err != nil {
			t.Fatal(err)
		}
		expect(t, s, key, "m2", "body")
		if err := s.Update(ctx, other, []byte("x"), time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Update(missing) = %v, want ErrNotFound", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "m", "body", 4)
		e, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete = %v", err)
		}
		// The entry opened before the delete is still readable.
		if got := readAll(t, e); got != "body" {
			t.Errorf("open entry after Delete reads %q", got)
		}
		e.Close()
		if err := s.Delete(ctx, other); err != nil {
			t.Errorf("Delete(missing) = %v", err)
		}
	})

	t.Run("replace while open", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "m1", "first", 5)
		e, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		put(t, s, key, "m2", "second", 6)
		if got := readAll(t, e); got != "first" || string(e.Meta()) != "m1" {
			t.Errorf("open entry after replacement: %q %q", e.Meta(), got)
		}
		e.Close()
		expect(t, s, key, "m2", "second")
	})

	t.Run("expiry", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "m", "soon gone", 9, time.Second)
		put(t, s, other, "m", "stays", 5)
		deadline := time.Now().Add(15 * time.Second)
		for {
			e, err := s.Get(ctx, key)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err == nil {
				e.Close()
			}
			if time.Now().After(deadline) {
				t.Fatal("entry with a 1 s TTL still there after 15 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		expect(t, s, other, "m", "stays")
	})

	t.Run("concurrent writers and readers", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errs := make(chan error, 16)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					body := bytes.Repeat([]byte{byte('a' + g)}, 1000+g*100+i)
					sum := sha256.Sum256(body)
					w, err := s.Create(ctx, key, sum[:], int64(len(body)), time.Hour)
					if err != nil {
						errs <- err
						return
					}
					if i%5 == 0 {
						w.Write(body[:len(body)/2])
						w.Abort()
						continue
					}
					w.Write(body)
					if err := w.Commit(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		var rg sync.WaitGroup
		for g := 0; g < 4; g++ {
			rg.Add(1)
			go func() {
				defer rg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					e, err := s.Get(ctx, key)
					if err != nil {
						continue
					}
					body, err := io.ReadAll(store.Reader(e))
					meta := append([]byte(nil), e.Meta()...)
					e.Close()
					if err != nil {
						errs <- err
						return
					}
					if sum := sha256.Sum256(body); !bytes.Equal(sum[:], meta) {
						errs <- fmt.Errorf("entry of %d bytes does not match its metadata", len(body))
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		rg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("stats", func(t *testing.T) {
		s := open(t)
		put(t, s, key, "m", "body", 4)
		deadline := time.Now().Add(5 * time.Second)
		for st := s.Stats(); st.Entries < 1 || st.Bytes < 5; st = s.Stats() {
			if time.Now().After(deadline) {
				t.Fatalf("Stats = %+v after one commit", st)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// put stores an entry and fails the test on error; ttl defaults to an hour.
func put(t *testing.T, s store.Store, key store.Key, meta, body string, size int64, ttl ...time.Duration) {
	t.Helper()
	d := time.Hour
	if len(ttl) > 0 {
		d = ttl[0]
	}
	w, err := s.Create(context.Background(), key, []byte(meta), size, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// expect checks the committed entry under key.
func expect(t *testing.T, s store.Store, key store.Key, meta, body string) {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer e.Close()
	if string(e.Meta()) != meta {
		t.Errorf("Meta = %q, want %q", e.Meta(), meta)
	}
	if e.Size() != int64(len(body)) {
		t.Errorf("Size = %d, want %d", e.Size(), len(body))
	}
	if got := readAll(t, e); got != body {
		if len(got) > 40 || len(body) > 40 {
			t.Errorf("body of %d bytes differs from the %d written", len(got), len(body))
		} else {
			t.Errorf("body = %q, want %q", got, body)
		}
	}
	if be, ok := e.(store.BytesEntry); ok && string(be.Bytes()) != body {
		t.Error("Bytes differs from ReadAt")
	}
	if fe, ok := e.(store.FileEntry); ok {
		f, off := fe.File()
		p := make([]byte, len(body))
		if n, _ := f.ReadAt(p, off); n != len(body) || string(p) != body {
			t.Error("File region differs from ReadAt")
		}
	}
}

func readAll(t *testing.T, e store.Entry) string {
	t.Helper()
	b, err := io.ReadAll(store.Reader(e))
	if err != nil {
		t.Fatalf("reading entry: %v", err)
	}
	return string(b)
}
