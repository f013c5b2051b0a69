package server

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"syscall"
)

// ListenReusePort opens n TCP listeners on the same address with SO_REUSEPORT, so the
// kernel spreads incoming connections across them (by a hash of the connection's
// addresses) and no single accept queue or acceptor goroutine becomes the bottleneck.
// With addr's port 0, the first listener picks the port and the rest join it.
// n <= 0 means runtime.GOMAXPROCS(0). Like Listen, the listeners set no TCP keep-alive
// probes on accepted connections.
func ListenReusePort(network, addr string, n int) ([]net.Listener, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = setReusePort(int(fd)) })
		if err != nil {
			return err
		}
		return serr
	}}
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := lc.Listen(context.Background(), network, addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		if i == 0 {
			addr = ln.Addr().String()
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// ServeAll serves on every listener (for example the shards from ListenReusePort) and
// returns when all of them have stopped, with the first error other than
// ErrServerClosed, or ErrServerClosed.
func (s *Server) ServeAll(lns []net.Listener) error {
	if len(lns) == 0 {
		return errors.New("hop/server: no listeners")
	}
	var wg sync.WaitGroup
	errs := make([]error, len(lns))
	for i, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Serve(ln)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && err != ErrServerClosed {
			return err
		}
	}
	return ErrServerClosed
}
