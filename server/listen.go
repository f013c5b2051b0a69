package server

import (
	"context"
	"net"
)

// Listen opens a TCP listener for the server the way ListenAndServe does: like
// net.Listen, except that accepted connections get no TCP keep-alive probes. Go's
// listeners turn the probes on for every accepted connection (four setsockopt calls
// each), which the server does not need: its IdleTimeout and ReadHeaderTimeout already
// bound how long a silent peer holds a connection. With IdleTimeout negative (no
// timeout), listen with net.ListenConfig and its KeepAlive instead, so that dead peers
// are still found.
func Listen(network, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), network, addr)
}
