package cache_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/cache/store"
	"github.com/hop-http/hop/cache/store/disk"
	"github.com/hop-http/hop/cache/store/memory"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/wire"
)

// benchHit measures a hit through Cache.Exchange alone: the lookup, the freshness
// decision, the response head with Age and Cache-Status, and the body read.
func benchHit(b *testing.B, st store.Store, size int) {
	defer st.Close()
	body := make([]byte, size)
	origin := proxy.ExchangerFunc(func(ctx context.Context, x *proxy.Exchange) error {
		r := &x.Resp
		r.Major, r.Minor, r.Status = 1, 1, 200
		r.Header.Add("Cache-Control", "max-age=3600")
		r.Header.Add("Content-Type", "application/octet-stream")
		r.Framing, r.ContentLength = wire.FramingLength, int64(size)
		x.Body = io.NopCloser(bytesReader(body))
		return nil
	})
	c := &cache.Cache{Store: st, Next: origin}
	defer c.Close()
	x := new(proxy.Exchange)
	x.Req.Method = "GET"
	x.Req.URL.Set("http://example.test/hit")
	x.Req.Header.Add("Host", "example.test")
	x.Req.Header.Add("User-Agent", "bench")
	buf := make([]byte, 32<<10)
	exchange := func() {
		x.Resp.Reset()
		if err := c.Exchange(context.Background(), x); err != nil {
			b.Fatal(err)
		}
		for {
			_, err := x.Body.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		x.Body.Close()
		x.Body = nil
	}
	exchange() // the miss that stores it
	time.Sleep(10 * time.Millisecond)
	exchange()
	if st := c.Stats(); st.Hits != 1 {
		b.Fatalf("not a hit: %+v", st)
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exchange()
	}
}

func BenchmarkMemoryHit1K(b *testing.B)   { benchHit(b, memory.New(memory.Options{}), 1<<10) }
func BenchmarkMemoryHit100K(b *testing.B) { benchHit(b, memory.New(memory.Options{}), 100<<10) }

// A disk hit on a small body is served from the store's in-memory copy; a large one
// opens its file (the proxy then sends it with sendfile; here it is read).
func BenchmarkDiskHit1K(b *testing.B)   { benchHit(b, openDisk(b), 1<<10) }
func BenchmarkDiskHit100K(b *testing.B) { benchHit(b, openDisk(b), 100<<10) }

func openDisk(b *testing.B) store.Store {
	st, err := disk.Open(b.TempDir(), disk.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

type bytesReaderT struct {
	b   []byte
	off int
}

func bytesReader(b []byte) *bytesReaderT { return &bytesReaderT{b: b} }

func (r *bytesReaderT) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}
