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

// workersRunning counts the goroutines waiting in the server's connection hand-off.
func workersRunning() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "server.(*Server).worker(")
}

// TestConnectionGoroutinesReused: connections that follow one another are served by
// the goroutine the previous one ended on (no goroutine, and no stack growth, per
// connection), and Shutdown ends the goroutines that wait for a connection.
func TestConnectionGoroutinesReused(t *testing.T) {
	before := workersRunning() // other tests' servers' goroutines, ending on their own
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
	if workersRunning() <= before {
		t.Error("no goroutine waits for the next connection")
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-served
	deadline := time.Now().Add(ioWait)
	for workersRunning() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d connection goroutines still wait after Shutdown (%d before)", workersRunning(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
