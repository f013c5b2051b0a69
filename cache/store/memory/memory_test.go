package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := New(Options{MaxBytes: 64 << 20})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The store stays within its byte bound and counts what it evicted.
func TestBoundedInBytes(t *testing.T) {
	s := New(Options{MaxBytes: 1 << 20, MaxEntry: 64 << 10})
	defer s.Close()
	body := make([]byte, 10<<10)
	for i := 0; i < 500; i++ { // 5 MB through a 1 MiB store
		key := store.KeyOf([]byte(fmt.Sprint("k", i)))
		w, err := s.Create(context.Background(), key, []byte("m"), int64(len(body)), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	s.c.CleanUp()
	st := s.Stats()
	if st.Bytes > 1<<20 {
		t.Errorf("Bytes = %d, above the 1 MiB bound", st.Bytes)
	}
	if st.Evictions == 0 {
		t.Error("no evictions counted")
	}
	if _, err := s.Create(context.Background(), store.KeyOf([]byte("big")), nil, 65<<10, time.Hour); err != store.ErrTooLarge {
		t.Errorf("Create above MaxEntry = %v, want ErrTooLarge", err)
	}
}

// A hit allocates nothing.
func TestGetAllocs(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	key := store.KeyOf([]byte("k"))
	w, _ := s.Create(context.Background(), key, []byte("m"), 1, time.Hour)
	w.Write([]byte("x"))
	w.Commit()
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		e, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
	}); n != 0 {
		t.Errorf("allocs per Get = %v", n)
	}
}
