package loadgen

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

// startServer serves h with a hop server on 127.0.0.1 and returns its base URL.
func startServer(t testing.TB, h server.HandlerFunc, configure func(*server.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: h}
	if configure != nil {
		configure(srv)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String() + "/"
}

// hello answers every request with 200 "Hello, World!".
func hello(w *server.ResponseWriter, r *server.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteString("Hello, World!")
}

// startRaw runs a testnet.Raw server that hands every accepted connection to handle
// (on its own goroutine) and returns its base URL.
func startRaw(t testing.TB, handle func(c *net.TCPConn)) string {
	t.Helper()
	return "http://" + testnet.Raw(t, func(c net.Conn, _ int) { handle(c.(*net.TCPConn)) }) + "/"
}

// readHead reads from c until the end of a request head ("\r\n\r\n") and returns
// whatever followed it in the same reads. It reports false on error or after 64 KiB.
func readHead(c net.Conn, buf []byte) ([]byte, bool) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		for i := 3; i < n; i++ {
			if buf[i-3] == '\r' && buf[i-2] == '\n' && buf[i-1] == '\r' && buf[i] == '\n' {
				return buf[i+1 : n], true
			}
		}
		if err != nil {
			return nil, false
		}
	}
	return nil, false
}

// freeURL returns a URL on a loopback port that nothing listens on.
func freeURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/"
}

// run is Run with a generous bound on the whole call, failing the test on error.
func run(t testing.TB, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
