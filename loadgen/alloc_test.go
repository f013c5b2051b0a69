package loadgen

import (
	"runtime"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
)

// cannedResponse is what the canned server (testnet.Canned, which allocates nothing
// per request) answers, so that the engine's own allocations can be counted.
const cannedResponse = "HTTP/1.1 200 OK\r\nServer: canned\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

// TestNoAllocsPerRequest runs the real engine against the canned server and checks
// that the whole process allocates (almost) nothing per request: what remains is the
// fixed cost of starting the run and its connections.
func TestNoAllocsPerRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	url := "http://" + testnet.Canned(t, []byte(cannedResponse)) + "/"
	for _, depth := range []int{1, 16} {
		const n = 20000
		cfg := Config{URL: url, Connections: 4, Pipeline: depth, Requests: n}
		run(t, cfg) // warm up the runtime
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res := run(t, cfg)
		runtime.ReadMemStats(&after)
		if res.Requests != n || res.Errors.Total() != 0 {
			t.Fatalf("requests %d, errors %+v", res.Requests, res.Errors)
		}
		per := float64(after.Mallocs-before.Mallocs) / n
		t.Logf("pipeline %d: %d allocations for %d requests (%.4f per request)", depth,
			after.Mallocs-before.Mallocs, n, per)
		if per > 0.05 {
			t.Errorf("pipeline %d: %.3f allocations per request, want ~0", depth, per)
		}
	}
}

// TestProcessNoAllocs parses a buffer of pipelined responses, with Content-Length
// and chunked bodies, without allocating.
func TestProcessNoAllocs(t *testing.T) {
	const depth = 64
	e := &engine{cfg: Config{Connections: 1, Pipeline: depth, Timeout: time.Second}, method: []byte("GET")}
	e.hists = make(chan *histPair, 1)
	e.hists <- newHistPair()
	e.done = make(chan struct{})
	e.base = time.Now()
	w := newWorker(e, 0)
	w.makeRoom()
	var in []byte
	for i := 0; i < depth/2; i++ {
		in = append(in, cannedResponse...)
		in = append(in, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nHello\r\n8\r\n, World!\r\n0\r\nX-Trailer: t\r\n\r\n"...)
	}
	step := func() {
		w.in.Reset()
		w.in.Advance(copy(w.in.Free(), in))
		w.head, w.n = 0, depth
		if err := w.process(e.now()); err != nil {
			t.Fatal(err)
		}
		if w.n != 0 || w.in.Len() != 0 {
			t.Fatalf("%d responses left, %d bytes unparsed", w.n, w.in.Len())
		}
	}
	step()
	if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
		t.Errorf("%.1f allocations per %d responses", allocs, depth)
	}
	if got := w.live.requests.Load(); got != 102*depth { // step, AllocsPerRun's warm-up, 100 runs
		t.Errorf("recorded %d responses, want %d", got, 102*depth)
	}
}

func BenchmarkEngine(b *testing.B) {
	url := "http://" + testnet.Canned(b, []byte(cannedResponse)) + "/"
	for _, depth := range []int{1, 16} {
		b.Run(map[int]string{1: "keep-alive", 16: "pipelined-16"}[depth], func(b *testing.B) {
			b.ReportAllocs()
			res := run(b, Config{URL: url, Connections: 8, Pipeline: depth, Requests: int64(b.N)})
			b.ReportMetric(res.RequestsPerSec(), "req/s")
		})
	}
}
