// Command plainserver serves the TechEmpower plaintext answer with one of the
// implementations the benchmarks compare, so that they can be loaded one at a time
// under identical conditions.
//
//	plainserver -impl hop|hop-adapter|hop-nopark|fasthttp|nethttp [-addr 127.0.0.1:8080]
//
// It raises its open-file limit to the hard limit, prints "listening on ADDR" to
// stderr once it accepts connections, and shuts down on SIGINT or SIGTERM. Pin it
// with taskset and set GOMAXPROCS as the benchmark requires; run.sh does both.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/hop-http/hop/benchmarks/internal/rlimit"
	"github.com/hop-http/hop/benchmarks/servers"
)

func main() {
	impl := flag.String("impl", servers.Hop, fmt.Sprintf("implementation: one of %v", servers.IdleImpls))
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	os.Exit(run(*impl, *addr))
}

func run(impl, addr string) int {
	s, err := servers.New(impl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plainserver:", err)
		return 2
	}
	if n, err := rlimit.RaiseNoFile(); err != nil {
		fmt.Fprintln(os.Stderr, "plainserver: raising RLIMIT_NOFILE:", err)
	} else if n < 1024 {
		fmt.Fprintf(os.Stderr, "plainserver: warning: only %d file descriptors\n", n)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	served := make(chan error, 1)
	listening := func(addr string) {
		fmt.Fprintf(os.Stderr, "plainserver: %s listening on %s (GOMAXPROCS=%d, pid %d)\n",
			impl, addr, runtime.GOMAXPROCS(0), os.Getpid())
	}
	if ls, ok := s.(servers.SelfListener); ok {
		// gnet listens and accepts itself.
		go func() { served <- ls.ListenAndServe(addr, func() { listening(addr) }) }()
	} else {
		ln, err := servers.Listen(impl, addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "plainserver:", err)
			return 1
		}
		go func() { served <- s.Serve(ln) }()
		listening(ln.Addr().String())
	}
	select {
	case err := <-served:
		fmt.Fprintln(os.Stderr, "plainserver:", err)
		return 1
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	return 0
}
