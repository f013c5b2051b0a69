package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

// idleModes are the ways a server can hold an idle keep-alive connection: with its
// goroutine, parked at once in the epoll set, parked after a short grace period, or
// with the defaults.
var idleModes = []struct {
	name string
	set  func(*server.Server)
}{
	{"goroutine", func(s *server.Server) { s.DisablePark = true }},
	{"parked", func(s *server.Server) { s.ParkAfter = -1 }},
	{"parked after grace", func(s *server.Server) { s.ParkAfter = 50 * time.Millisecond }},
	{"default", func(*server.Server) {}},
}

// TestShutdownGraceful: Shutdown while requests are in flight lets every one of them
// finish with a complete response carrying Connection: close, closes idle keep-alive
// connections, returns nil, and makes Serve return ErrServerClosed.
func TestShutdownGraceful(t *testing.T) {
	for _, mode := range idleModes {
		t.Run(mode.name, func(t *testing.T) {
			const inflight = 6
			started := make(chan struct{}, inflight)
			release := make(chan struct{})
			s := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
				if string(r.Path()) == "/slow" {
					started <- struct{}{}
					select {
					case <-release:
					case <-time.After(3 * ioWait):
					}
					time.Sleep(200 * time.Millisecond)
				}
				fmt.Fprintf(w, "done %s", r.Path())
			})}
			mode.set(s)
			ts := startServer(t, s)
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}()

			// Two idle keep-alive connections.
			idle := []*client{dial(t, ts.addr), dial(t, ts.addr)}
			for _, c := range idle {
				if r := c.roundTrip("GET", get("/fast")); r.closes() {
					t.Fatalf("keep-alive response closes: %s", r)
				}
			}
			// Requests in flight.
			var slow []*client
			for range inflight {
				c := dial(t, ts.addr)
				c.write(get("/slow"))
				slow = append(slow, c)
			}
			for i := range inflight {
				waitFor(t, started, fmt.Sprintf("handler %d to start", i))
			}

			shutdownErr := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 3*ioWait)
				defer cancel()
				shutdownErr <- s.Shutdown(ctx)
			}()
			// Wait until Shutdown has begun (the listener refuses), then let the
			// handlers finish: their responses are written during the shutdown.
			deadline := time.Now().Add(ioWait)
			for {
				nc, err := net.DialTimeout("tcp", ts.addr, time.Second)
				if err != nil {
					break
				}
				nc.Close()
				if time.Now().After(deadline) {
					t.Fatal("the listener still accepts after Shutdown")
				}
				time.Sleep(10 * time.Millisecond)
			}
			close(release)

			for i, c := range slow {
				r := c.mustResponse("GET")
				if r.Status != 200 || string(r.Body) != "done /slow" {
					t.Errorf("in-flight request %d: %s", i, r)
				}
				if !r.closes() {
					t.Errorf("in-flight request %d: response during Shutdown lacks Connection: close", i)
				}
				c.expectClosed()
				c.nc.Close() // ends the server's lingering close, as a real client does
			}
			for i, c := range idle {
				if err := c.closeState(ioWait); err != nil {
					t.Errorf("idle connection %d: %v", i, err)
				}
			}
			if err := waitFor(t, shutdownErr, "Shutdown to return"); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := waitFor(t, ts.served, "Serve to return"); !errors.Is(err, server.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
			ts.served <- server.ErrServerClosed // for the cleanup
		})
	}
}

// TestShutdownExpiredContext: Shutdown with a context that is already done closes
// everything at once and returns the context's error.
func TestShutdownExpiredContext(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	s := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		started <- struct{}{}
		select {
		case <-release:
		case <-time.After(3 * ioWait):
		}
		w.WriteString("late")
	})}
	ts := startServer(t, s)
	c := dial(t, ts.addr)
	c.write(get("/stuck"))
	waitFor(t, started, "the handler to start")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	if err := waitFor(t, done, "Shutdown to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown returned %v, want context.Canceled", err)
	}
	// The stuck request's connection was closed under it: no response.
	if r, err := c.readResponse("GET"); err == nil {
		t.Errorf("got a response after a forced shutdown: %s", r)
	}
	if err := waitFor(t, ts.served, "Serve to return"); !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	ts.served <- server.ErrServerClosed
}

// TestShutdownIdleOnly: with only idle connections Shutdown returns promptly, in every
// idle mode, and Serve on a shut-down server refuses.
func TestShutdownIdleOnly(t *testing.T) {
	for _, mode := range idleModes {
		t.Run(mode.name, func(t *testing.T) {
			s := &server.Server{Handler: textHandler}
			mode.set(s)
			ts := startServer(t, s)
			var cs []*client
			for range 5 {
				c := dial(t, ts.addr)
				c.roundTrip("GET", get("/"))
				cs = append(cs, c)
			}
			time.Sleep(200 * time.Millisecond) // past the grace period of "parked after grace"
			ctx, cancel := context.WithTimeout(context.Background(), 3*ioWait)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			for i, c := range cs {
				if err := c.closeState(ioWait); err != nil {
					t.Errorf("idle connection %d: %v", i, err)
				}
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Serve(ln); !errors.Is(err, server.ErrServerClosed) {
				t.Errorf("Serve after Shutdown: %v", err)
			}
		})
	}
}

// TestIdleResume: in every idle mode a kept-alive connection that waited (and may have
// been parked) serves the next request, a pipelined burst and an HTTP/1.0 keep-alive
// exchange, and a client that leaves while the connection is idle is noticed.
func TestIdleResume(t *testing.T) {
	for _, mode := range idleModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel() // sleep-bound: the modes wait side by side
			var opened, closed atomic.Int64
			s := &server.Server{Handler: textHandler, ConnState: func(_ server.ConnInfo, st server.ConnState) {
				if st == server.StateNew {
					opened.Add(1)
				} else if st == server.StateClosed {
					closed.Add(1)
				}
			}}
			mode.set(s)
			ts := startServer(t, s)
			c := dial(t, ts.addr)
			for i := 1; i <= 3; i++ {
				if r := c.roundTrip("GET", get("/")); !strings.HasSuffix(string(r.Body), fmt.Sprintf("req=%d", i)) {
					t.Fatalf("request %d: %s", i, r)
				}
				time.Sleep(120 * time.Millisecond)
			}
			var burst strings.Builder
			for i := range 20 {
				burst.WriteString(get(fmt.Sprintf("/b%d", i)))
			}
			c.write(burst.String())
			for i := range 20 {
				if r := c.mustResponse("GET"); !strings.HasPrefix(string(r.Body), fmt.Sprintf("GET /b%d ", i)) {
					t.Fatalf("burst response %d: %s", i, r)
				}
			}
			time.Sleep(120 * time.Millisecond)
			c10 := dial(t, ts.addr)
			for i := range 2 {
				r := c10.roundTrip("GET", "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
				if !r.Header.HasToken("Connection", "keep-alive") {
					t.Fatalf("HTTP/1.0 request %d: %s", i, r)
				}
				time.Sleep(120 * time.Millisecond)
			}
			c.nc.Close()
			c10.nc.Close()
			deadline := time.Now().Add(ioWait)
			for closed.Load() != 2 || opened.Load() != 2 {
				if time.Now().After(deadline) {
					t.Fatalf("ConnState: %d opened, %d closed; want 2 and 2", opened.Load(), closed.Load())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
