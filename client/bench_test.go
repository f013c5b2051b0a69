package client

import (
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/hop-http/hop/internal/testnet"
)

// cannedHello is what the canned server (testnet.Canned, which allocates nothing per
// request) answers, so that benchmarks and allocation counts measure the client alone.
const cannedHello = "HTTP/1.1 200 OK\r\nServer: canned\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

// BenchmarkClientGet measures the native GET path on a reused connection: it must not
// allocate. Connections reused this fast skip the liveness check
// (DefaultLivenessCheckMinIdle).
func BenchmarkClientGet(b *testing.B) { benchGet(b, &Client{}) }

// BenchmarkClientGetChecked is BenchmarkClientGet with the liveness check before every
// reuse (LivenessCheckMinIdle negative): the cost of one MSG_PEEK per request.
func BenchmarkClientGetChecked(b *testing.B) { benchGet(b, &Client{LivenessCheckMinIdle: -1}) }

func benchGet(b *testing.B, cl *Client) {
	url := "http://" + testnet.Canned(b, []byte(cannedHello)) + "/"
	defer cl.Close()
	var req Request
	var resp Response
	if err := req.SetURL(url); err != nil {
		b.Fatal(err)
	}
	if err := cl.Do(&req, &resp); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := req.SetURL(url); err != nil {
			b.Fatal(err)
		}
		if err := cl.Do(&req, &resp); err != nil {
			b.Fatal(err)
		}
		if resp.Status != 200 || len(resp.Body) != 13 {
			b.Fatalf("got %d %q", resp.Status, resp.Body)
		}
	}
}

func BenchmarkNetHTTPGetCanned(b *testing.B) {
	url := "http://" + testnet.Canned(b, []byte(cannedHello)) + "/"
	hc := &http.Client{}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r, err := hc.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
}

// The native GET path allocates nothing on a reused connection (the canned server
// allocates nothing either, so the process-wide count is the client's).
func TestGetPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	url := "http://" + testnet.Canned(t, []byte(cannedHello)) + "/"
	cl := newClient(t, nil)
	var req Request
	var resp Response
	run := func() {
		if err := req.SetURL(url); err != nil {
			t.Fatal(err)
		}
		if err := cl.Do(&req, &resp); err != nil || resp.Status != 200 || string(resp.Body) != "Hello, World!" {
			t.Fatalf("%v %d %q", err, resp.Status, resp.Body)
		}
	}
	run()
	if n := testing.AllocsPerRun(2000, run); n != 0 {
		t.Errorf("%.2f allocations per GET, want 0", n)
	}
	// Also with a header field and a chunked response.
	url = "http://" + testnet.Canned(t, []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n8\r\n, World!\r\n0\r\n\r\n")) + "/"
	req.Header.Set("Accept", "text/plain")
	run()
	if n := testing.AllocsPerRun(2000, run); n != 0 {
		t.Errorf("%.2f allocations per chunked GET, want 0", n)
	}
}

func TestNoDelay(t *testing.T) {
	base := startHop(t, echoConn)
	for _, disable := range []bool{false, true} {
		cl := newClient(t, &Client{DisableNoDelay: disable})
		get(t, cl, base+"/")
		p := cl.allPools()[0]
		p.mu.Lock()
		c := p.idle[0]
		p.mu.Unlock()
		var v int
		c.raw.Control(func(fd uintptr) {
			v, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
		})
		if (v != 0) == disable {
			t.Errorf("DisableNoDelay=%v: TCP_NODELAY=%d", disable, v)
		}
	}
}
