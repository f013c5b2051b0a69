package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// tunnelBuf is the copy buffer of a tunnel direction that cannot splice (TLS on the
// client side); plain TCP to plain TCP splices in the kernel and needs none.
var tunnelBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// TunnelStats is what a tunnel carried.
type TunnelStats struct {
	Up, Down int64 // bytes client → upstream, upstream → client
}

// tunnel relays bytes both ways between the client connection and the upstream one
// until both directions end, then closes both. When one side ends its stream (EOF),
// the other side's write half is shut down (CloseWrite), so a half-close crosses the
// tunnel and the other direction goes on. Between two *net.TCPConn, io.Copy uses
// splice(2) on Linux: the bytes never enter user space. head, when set, is sent to the
// upstream first (bytes the client sent right after its CONNECT or upgrade request).
func tunnel(client, upstream net.Conn, head []byte) (TunnelStats, error) {
	var st TunnelStats
	if len(head) > 0 {
		n, err := upstream.Write(head)
		st.Up += int64(n)
		if err != nil {
			client.Close()
			upstream.Close()
			return st, err
		}
	}
	var wg sync.WaitGroup
	var upErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, err := relay(upstream, client)
		st.Up += n
		upErr = err
	}()
	n, downErr := relay(client, upstream)
	st.Down = n
	wg.Wait()
	client.Close()
	upstream.Close()
	if downErr != nil {
		return st, downErr
	}
	return st, upErr
}

// relay copies src to dst until src ends, then shuts down dst's write side. On an error
// both connections are closed, which also ends the other direction.
func relay(dst, src net.Conn) (int64, error) {
	var n int64
	var err error
	if isTCP(dst) && isTCP(src) {
		n, err = io.Copy(dst, src) // *net.TCPConn.ReadFrom: splice on Linux
	} else {
		bp := tunnelBufs.Get().(*[]byte)
		n, err = io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
		tunnelBufs.Put(bp)
	}
	if err != nil && !closedErr(err) {
		dst.Close()
		src.Close()
		return n, err
	}
	closeWrite(dst)
	return n, nil
}

func isTCP(c net.Conn) bool { _, ok := c.(*net.TCPConn); return ok }

// closeWrite shuts down the write side of c (TCP, or TLS with close_notify then TCP);
// a connection without a write half is closed.
func closeWrite(c net.Conn) {
	switch v := c.(type) {
	case *net.TCPConn:
		v.CloseWrite()
	case *tls.Conn:
		v.CloseWrite()
		if tc, ok := v.NetConn().(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	default:
		c.Close()
	}
}

// closedErr reports errors that only mean the other direction already closed the
// connection, or it was reset on the way out.
func closedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

// tunnelSet tracks the proxy's tunnels (CONNECT and upgrades), which the server
// forgets once it hands their connections over, so that Shutdown can wait for them.
// A tunnel is reserved before its connection is taken over — while the server still
// counts the request as in flight — so a server Shutdown that returns before
// Proxy.Shutdown starts cannot miss one.
type tunnelSet struct {
	mu      sync.Mutex
	live    map[*liveTunnel]struct{}
	closing bool // Shutdown started: no new tunnels
	cut     bool // Shutdown's deadline passed: tunnels are closed
}

// liveTunnel is one reserved tunnel; its connections are set once taken over.
type liveTunnel struct {
	set   *tunnelSet
	conns [2]net.Conn
}

// reserve registers a tunnel about to start; it fails once Shutdown has begun.
func (ts *tunnelSet) reserve() (*liveTunnel, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closing {
		return nil, false
	}
	if ts.live == nil {
		ts.live = map[*liveTunnel]struct{}{}
	}
	lt := &liveTunnel{set: ts}
	ts.live[lt] = struct{}{}
	return lt, true
}

// attach records the tunnel's connections; when Shutdown already cut the tunnels
// they are closed at once (the relay then ends straight away).
func (lt *liveTunnel) attach(client, upstream net.Conn) {
	ts := lt.set
	ts.mu.Lock()
	lt.conns = [2]net.Conn{client, upstream}
	cut := ts.cut
	ts.mu.Unlock()
	if cut {
		client.Close()
		upstream.Close()
	}
}

// done unregisters the tunnel.
func (lt *liveTunnel) done() {
	ts := lt.set
	ts.mu.Lock()
	delete(ts.live, lt)
	ts.mu.Unlock()
}

func (ts *tunnelSet) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.live)
}

// closeAll closes the connections of every tunnel.
func (ts *tunnelSet) closeAll() {
	ts.mu.Lock()
	ts.cut = true
	var conns []net.Conn
	for lt := range ts.live {
		for _, c := range lt.conns {
			if c != nil {
				conns = append(conns, c)
			}
		}
	}
	ts.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// shutdown refuses new tunnels, waits for the live ones to end until ctx is done,
// then closes them and waits (briefly) for their relays to return.
func (ts *tunnelSet) shutdown(ctx context.Context) error {
	ts.mu.Lock()
	ts.closing = true
	ts.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ts.count() > 0 {
		select {
		case <-ctx.Done():
			ts.closeAll()
			// Closed connections end their relays at once; a relay still writing to
			// a peer gives up at that write's error. Bound the wait all the same.
			for end := time.Now().Add(time.Second); ts.count() > 0 && time.Now().Before(end); {
				time.Sleep(5 * time.Millisecond)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
