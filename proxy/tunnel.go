package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// tunnelBufs holds the copy buffers of a tunnel direction that cannot splice (TLS on the
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
//
// idle, when positive, closes a tunnel through which no byte moved either way for
// that long (see relay), half-closed or not; it then returns errTunnelIdle.
func tunnel(client, upstream net.Conn, head []byte, idle time.Duration) (TunnelStats, error) {
	var st TunnelStats
	if len(head) > 0 {
		if idle > 0 {
			upstream.SetWriteDeadline(time.Now().Add(idle))
		}
		n, err := upstream.Write(head)
		st.Up += int64(n)
		if err != nil {
			client.Close()
			upstream.Close()
			return st, err
		}
	}
	now := time.Now().UnixNano()
	up := &direction{src: client, dst: upstream, verdict: make(chan bool, 1)}
	down := &direction{src: upstream, dst: client, verdict: make(chan bool, 1)}
	up.other, down.other = down, up
	up.quietSince.Store(now)
	down.quietSince.Store(now)
	var wg sync.WaitGroup
	var upErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, err := up.relay(idle)
		st.Up += n
		upErr = err
	}()
	n, downErr := down.relay(idle)
	st.Down = n
	wg.Wait()
	client.Close()
	upstream.Close()
	if up.idleClosed.Load() || down.idleClosed.Load() {
		return st, errTunnelIdle
	}
	if downErr != nil {
		return st, downErr
	}
	return st, upErr
}

// errTunnelIdle ends a tunnel closed by its idle timeout.
var errTunnelIdle = errors.New("hop/proxy: tunnel idle timeout")

// direction is one way of a tunnel: src's bytes copied to dst.
type direction struct {
	src, dst net.Conn
	other    *direction
	// quietSince is when this direction last carried a byte as far as it knows (its
	// copy reports bytes when it returns), in Unix ns; checked when it last found
	// itself quiet and asked the other direction; ended that it is over.
	quietSince atomic.Int64
	checked    int64
	ended      atomic.Bool
	// poked is set (Unix ns) by the other direction, quiet itself, when it
	// interrupts this one's copy (a read deadline now) to learn whether this one is
	// quiet too; the answer goes to the other's verdict (true: this one closed the
	// tunnel). A question older than the other waits for its answer is stale.
	poked      atomic.Int64
	verdict    chan bool
	idleClosed atomic.Bool
}

// relay copies d.src to d.dst until src ends, then shuts down dst's write side. On an
// error both connections are closed, which also ends the other direction.
//
// With idle > 0 the copy runs in periods: src's read deadline is the moment this
// direction will have been quiet for idle, dst's write deadline idle later (a write
// that no byte left for that long: a peer that stopped reading closes the tunnel).
// A period that ends with this direction quiet for idle closes the tunnel when the
// other direction has ended; otherwise it interrupts the other's copy and waits
// (briefly) for its verdict: the other closes the tunnel when it is quiet for idle as
// well, or both carry on. A copy reports its bytes only when it returns, so a tunnel
// is closed between idle and twice idle after its last byte.
func (d *direction) relay(idle time.Duration) (int64, error) {
	var total int64
	for {
		var writeBy time.Time
		if idle > 0 {
			readBy := time.Unix(0, max(d.quietSince.Load(), d.checked)).Add(idle)
			writeBy = readBy.Add(idle)
			d.src.SetReadDeadline(readBy)
			d.dst.SetWriteDeadline(writeBy)
		}
		n, err := copyConn(d.dst, d.src)
		total += n
		now := time.Now()
		if n > 0 {
			d.quietSince.Store(now.UnixNano())
		}
		quiet := now.Sub(time.Unix(0, d.quietSince.Load())) >= idle
		if at := d.poked.Swap(0); at != 0 {
			// The other direction is quiet and asks: close the tunnel when this one
			// is quiet too (and did not just end: then the other sees that).
			closing := quiet && now.Sub(time.Unix(0, at)) < askWait(idle) &&
				errors.Is(err, os.ErrDeadlineExceeded) && now.Before(writeBy)
			if closing {
				d.closeIdle()
			}
			select {
			case d.other.verdict <- closing:
			default:
			}
			if closing {
				return total, errTunnelIdle
			}
		}
		if idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			if !now.Before(writeBy) {
				// A write that no byte left for idle: the peer stopped reading.
				d.closeIdle()
				return total, errTunnelIdle
			}
			if quiet {
				if d.ask(now, idle) {
					return total, errTunnelIdle
				}
			}
			continue
		}
		d.quietSince.Store(now.UnixNano())
		d.ended.Store(true)
		if err != nil && !closedErr(err) {
			d.dst.Close()
			d.src.Close()
			return total, err
		}
		closeWrite(d.dst)
		return total, nil
	}
}

// ask is called when d has been quiet for idle: it closes the tunnel when the other
// direction ended, else asks the other whether it is quiet too (which then closes
// the tunnel). It reports whether the tunnel was closed.
func (d *direction) ask(now time.Time, idle time.Duration) bool {
	o := d.other
	d.checked = now.UnixNano()
	if o.ended.Load() {
		d.closeIdle()
		return true
	}
	select {
	case <-d.verdict: // a late answer to an earlier question
	default:
	}
	o.poked.Store(now.UnixNano())
	o.src.SetReadDeadline(now)
	t := time.NewTimer(askWait(idle))
	defer t.Stop()
	select {
	case closed := <-d.verdict:
		return closed
	case <-t.C:
		// The other is busy writing (a slow peer): not idle, or its write
		// deadline will tell.
		return false
	}
}

// askWait is how long a quiet direction waits for the other's answer.
func askWait(idle time.Duration) time.Duration { return min(idle, time.Second) }

// closeIdle closes both connections of an idle tunnel.
func (d *direction) closeIdle() {
	d.idleClosed.Store(true)
	d.ended.Store(true)
	d.src.Close()
	d.dst.Close()
}

// copyConn copies src to dst until src ends or fails.
func copyConn(dst, src net.Conn) (int64, error) {
	if isTCP(dst) && isTCP(src) {
		return io.Copy(dst, src) // *net.TCPConn.ReadFrom: splice on Linux
	}
	bp := tunnelBufs.Get().(*[]byte)
	defer tunnelBufs.Put(bp)
	return io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
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

	refused, idleClosed atomic.Int64 // see TunnelCounts
}

// Reasons reserve refuses a tunnel.
var (
	errTunnelLimit   = errors.New("hop/proxy: too many tunnels")
	errTunnelClosing = errors.New("hop/proxy: shutting down")
)

// liveTunnel is one reserved tunnel; its connections are set once taken over.
type liveTunnel struct {
	set   *tunnelSet
	conns [2]net.Conn
}

// reserve registers a tunnel about to start; it fails once Shutdown has begun, or
// when max (> 0) tunnels are registered.
func (ts *tunnelSet) reserve(max int) (*liveTunnel, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closing {
		return nil, errTunnelClosing
	}
	if max > 0 && len(ts.live) >= max {
		ts.refused.Add(1)
		return nil, errTunnelLimit
	}
	if ts.live == nil {
		ts.live = map[*liveTunnel]struct{}{}
	}
	lt := &liveTunnel{set: ts}
	ts.live[lt] = struct{}{}
	return lt, nil
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
