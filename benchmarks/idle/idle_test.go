package idle_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hop-http/hop/benchmarks/idle"
	"github.com/hop-http/hop/benchmarks/servers"
)

func TestRSS(t *testing.T) {
	kb, err := idle.RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if kb <= 0 || kb > 64<<20 {
		t.Fatalf("RSS of this process %d KiB: implausible", kb)
	}
	if _, err := idle.RSS(-1); err == nil {
		t.Fatal("RSS(-1) succeeded")
	}
}

func serve(t *testing.T, impl string) (servers.Server, string) {
	t.Helper()
	s, err := servers.New(impl)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return s, ln.Addr().String()
}

// TestMeasure runs the whole measurement against in-process servers (the RSS is this
// test process's, so only its plumbing is checked, not the number).
func TestMeasure(t *testing.T) {
	for _, impl := range servers.IdleImpls {
		t.Run(impl, func(t *testing.T) {
			_, addr := serve(t, impl)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := idle.Measure(ctx, os.Getpid(), idle.Options{Addr: addr, Workers: 8}, 100, 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if res.N != 100 || res.SecondOK != 100 || res.SecondError != nil {
				t.Fatalf("%+v: want all 100 connections to answer twice", res)
			}
			if res.RSSBefore <= 0 || res.RSSAfter <= 0 {
				t.Fatalf("%+v: RSS not read", res)
			}
		})
	}
}

// TestRoundTripNoticesClosedConnections shows the second-request check is not vacuous:
// after the server shuts down, no connection answers.
func TestRoundTripNoticesClosedConnections(t *testing.T) {
	s, addr := serve(t, servers.Hop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := idle.Open(ctx, idle.Options{Addr: addr, Timeout: 5 * time.Second}, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if ok, err := cs.RoundTrip(ctx); ok != 20 || err != nil {
		t.Fatalf("before shutdown: %d ok, %v", ok, err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := cs.RoundTrip(ctx); ok != 0 || err == nil {
		t.Fatalf("after shutdown: %d ok, %v; want 0 and an error", ok, err)
	}
}

func TestOpenFailsWithoutServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := idle.Open(ctx, idle.Options{Addr: addr, Timeout: 5 * time.Second}, 5); err == nil {
		t.Fatal("Open succeeded with no server")
	}
}
