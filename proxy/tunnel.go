package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
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
