package server_test

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

// goroutineID returns the calling goroutine's id, from its stack header.
func goroutineID() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := bytes.Fields(buf[:n])
	if len(f) < 2 {
		return ""
	}
	return string(f[1])
}

// waiting returns those of the goroutines ids that still exist and wait in a
// server's connection hand-off (Server.worker's select), from a dump of all goroutines.
func waiting(ids map[string]int) []string {
	buf := make([]byte, 1<<22)
	n := runtime.Stack(buf, true)
	var out []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		f := strings.Fields(g)
		if len(f) > 1 && ids[f[1]] > 0 && strings.Contains(g, "server.(*Server).worker(") &&
			!strings.Contains(g, "server.(*Server).serveNew(") {
			out = append(out, f[1])
		}
	}
	return out
}

// TestConnectionGoroutinesReused: connections that follow one another are served by
// the goroutine the previous one ended on (no goroutine, and no stack growth, per
// connection), and Shutdown ends the goroutines that wait for a connection.
func TestConnectionGoroutinesReused(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]int{}
	srv := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		mu.Lock()
		ids[goroutineID()]++
		mu.Unlock()
		w.WriteString("ok")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	const n = 20
	for i := 0; i < n; i++ {
		c := dial(t, ln.Addr().String())
		if r := c.roundTrip("GET", head("GET / HTTP/1.1", "Host: test", "Connection: close")); r.Status != 200 {
			t.Fatalf("connection %d: %s", i, r)
		}
		c.expectClosed()
		time.Sleep(5 * time.Millisecond) // the goroutine gets back to waiting
	}
	mu.Lock()
	distinct := len(ids)
	mu.Unlock()
	if distinct > n/2 {
		t.Errorf("%d connections served by %d goroutines: not reused", n, distinct)
	}
	mu.Lock()
	if len(waiting(ids)) == 0 {
		t.Error("no goroutine that served a connection waits for the next one")
	}
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-served
	deadline := time.Now().Add(5 * time.Second) // half the 10 s after which they end on their own
	mu.Lock()
	defer mu.Unlock()
	for w := waiting(ids); len(w) > 0; w = waiting(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %v still wait for a connection after Shutdown", w)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
