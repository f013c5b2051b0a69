//go:build linux

package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReusePortShardsShareTheLoad(t *testing.T) {
	lns, err := ListenReusePort("tcp", "127.0.0.1:0", 4)
	if err != nil {
		t.Fatal(err)
	}
	addr := lns[0].Addr().String()
	for _, ln := range lns[1:] {
		if ln.Addr().String() != addr {
			t.Fatalf("shards on different addresses: %s vs %s", ln.Addr(), addr)
		}
	}
	var mu sync.Mutex
	perShard := map[string]int{}
	s := &Server{Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.WriteString("ok")
	})}
	// Count accepted connections per listener by wrapping each shard.
	var wrapped []net.Listener
	for i, ln := range lns {
		wrapped = append(wrapped, countingListener{ln, func() {
			mu.Lock()
			perShard[fmt.Sprint(i)]++
			mu.Unlock()
		}})
	}
	done := make(chan error, 1)
	go func() { done <- s.ServeAll(wrapped) }()
	const n = 200
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasSuffix(string(b), "ok") {
			t.Fatalf("request %d: %q", i, b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	if err := <-done; err != ErrServerClosed {
		t.Fatalf("ServeAll: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(perShard) < 2 {
		t.Fatalf("all %d connections went to one shard: %v", n, perShard)
	}
	t.Logf("connections per shard: %v", perShard)
}

type countingListener struct {
	net.Listener
	onAccept func()
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.onAccept()
	}
	return c, err
}
