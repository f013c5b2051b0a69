package benchmarks

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hop-http/hop/benchmarks/internal/plainclient"
	"github.com/hop-http/hop/benchmarks/servers"
	"github.com/hop-http/hop/internal/testnet"
)

// memServer serves one in-memory connection to the end.
type memServer func(tb testing.TB, c *testnet.MemConn)

// serveListener serves c through a Serve(net.Listener) method and returns once the
// server closed it.
func serveListener(tb testing.TB, c *testnet.MemConn, serve func(net.Listener) error) {
	ln := testnet.NewMemListener(c)
	served := make(chan error, 1)
	go func() { served <- serve(ln) }()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Minute):
		tb.Fatal("in-memory connection not closed after 5 minutes")
	}
	ln.Close()
	<-served
}

// memServers builds, once per benchmark, each implementation's in-memory driver. hop
// and net/http serve through Serve with a one-connection listener; fasthttp through
// ServeConn. Request limits per connection are lifted so one connection carries b.N.
func memServers() map[string]memServer {
	hop := func(adapter bool) memServer {
		s := servers.NewHopServer(adapter)
		s.MaxRequestsPerConn = -1
		return func(tb testing.TB, c *testnet.MemConn) { serveListener(tb, c, s.Serve) }
	}
	fs := servers.NewFastHTTPServer()
	ns := servers.NewNetHTTPServer()
	return map[string]memServer{
		servers.Hop:        hop(false),
		servers.HopAdapter: hop(true),
		servers.FastHTTP:   func(tb testing.TB, c *testnet.MemConn) { fs.ServeConn(c) },
		servers.NetHTTP:    func(tb testing.TB, c *testnet.MemConn) { serveListener(tb, c, ns.Serve) },
	}
}

var request = plainclient.Request("localhost", false)

// newConn returns an in-memory connection carrying total requests, per at a time, whose
// end of input waits for the last response like a real client.
func newConn(per, total, keep int) *testnet.MemConn {
	c := testnet.NewMemConn(request, per, total, keep)
	c.ResponseSize = responseSize
	return c
}

// responseSize returns the size of the first response in out, or 0 while incomplete.
func responseSize(out []byte) int {
	rd := plainclient.NewReader(bytes.NewReader(out), len(out)+1)
	var resp plainclient.Response
	if rd.Read(&resp) != nil {
		return 0
	}
	return len(resp.Raw)
}

// checkOutput verifies the first n responses of out and returns the size of one.
func checkOutput(tb testing.TB, out []byte, n int) int {
	tb.Helper()
	rd := plainclient.NewReader(bytes.NewReader(out), len(out)+1)
	size := 0
	for i := 0; i < n; i++ {
		var resp plainclient.Response
		if err := rd.Read(&resp); err != nil {
			tb.Fatalf("response %d: %v", i, err)
		}
		if err := plainclient.Check(&resp, true); err != nil {
			tb.Fatalf("response %d: %v\n%s", i, err, resp.Raw)
		}
		size = len(resp.Raw)
	}
	return size
}

func benchmarkMem(b *testing.B, per int) {
	for _, impl := range servers.Impls {
		b.Run(impl, func(b *testing.B) {
			serve := memServers()[impl]
			if serve == nil {
				b.Skip("serves only real sockets") // gnet: its event loop owns the descriptors
			}
			warm := newConn(per, 2*per, 8192)
			serve(b, warm) // fill pools and caches
			checkOutput(b, warm.Output(), 2*per)
			c := newConn(per, b.N, 4096)
			b.ReportAllocs()
			b.ResetTimer()
			serve(b, c)
			b.StopTimer()
			size := checkOutput(b, c.Output(), min(b.N, 16))
			if want := int64(size) * int64(b.N); c.Written() != want {
				b.Fatalf("wrote %d bytes for %d requests, want %d", c.Written(), b.N, want)
			}
		})
	}
}

// BenchmarkPlaintext compares parse, dispatch and serialize for one request per read
// over an in-memory connection (no system calls), per implementation.
func BenchmarkPlaintext(b *testing.B) { benchmarkMem(b, 1) }

// BenchmarkPipelined16 is BenchmarkPlaintext with 16 pipelined requests per read. An op
// is one request.
func BenchmarkPipelined16(b *testing.B) { benchmarkMem(b, 16) }

// BenchmarkLoopback compares one request/response round trip over real TCP loopback
// (one client connection in a loop; client and server share this process, so allocs/op
// counts both).
func BenchmarkLoopback(b *testing.B) {
	for _, impl := range servers.Impls {
		b.Run(impl, func(b *testing.B) {
			s, err := servers.New(impl)
			if err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- s.Serve(ln) }()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				s.Shutdown(ctx)
				<-served
			}()
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(5 * time.Minute))
			rd := plainclient.NewReader(nc, 4096)
			var resp plainclient.Response
			// The first response gives the size of all (the Date has a fixed width).
			if _, err := nc.Write(request); err != nil {
				b.Fatal(err)
			}
			if err := rd.Read(&resp); err != nil {
				b.Fatal(err)
			}
			if err := plainclient.Check(&resp, true); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, len(resp.Raw))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := nc.Write(request); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(nc, buf); err != nil {
					b.Fatal(err)
				}
				if !bytes.HasSuffix(buf, []byte(servers.Body)) {
					b.Fatalf("unexpected response %q", buf)
				}
			}
		})
	}
}

// TestMemServers checks that the in-memory drivers used by the benchmarks produce
// correct responses for every implementation (so that the numbers measure real work).
func TestMemServers(t *testing.T) {
	for impl, serve := range memServers() {
		for _, per := range []int{1, 16} {
			c := newConn(per, 40, 1<<20)
			serve(t, c)
			size := checkOutput(t, c.Output(), 40)
			if c.Written() != int64(40*size) {
				t.Errorf("%s per=%d: wrote %d bytes, want %d", impl, per, c.Written(), 40*size)
			}
		}
	}
}
