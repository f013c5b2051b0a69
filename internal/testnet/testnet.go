// Package testnet owns the test networks of hop's tests and benchmarks: a raw loopback
// TCP listener that hands every connection to the test's own handler, a UDP and TCP
// port pair of one number (for DNS servers), a canned server that answers every
// request head with the same bytes, a hop server for a handler (Serve), and an
// in-memory connection (MemConn, MemListener) that replays a request for server
// benchmarks without system calls. Tests use them where a real server cannot
// misbehave on purpose (resets, truncation, malformed heads) or would cost more than
// the code being measured. Buffer is the log sink such servers write to from their
// goroutines. It is imported only by _test files, in this module and in the
// benchmarks module.
package testnet

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/server"
)

// Raw listens on 127.0.0.1 and runs handle for every accepted connection, each on its
// own goroutine; n numbers the connections from 0 in accept order. It returns the
// listener's address, "127.0.0.1:port". A connection is closed when its handle
// returns. At cleanup the listener and the connections still open are closed, and Raw
// waits for every handle to return.
func Raw(tb testing.TB, handle func(c net.Conn, n int)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c, n)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// UDPAndTCP listens on a free UDP port of 127.0.0.1 and on the TCP port of the same
// number, as a DNS server does (a client retries a truncated answer over TCP at the
// same address), trying other ports while the TCP one is taken. Both are closed at
// cleanup.
func UDPAndTCP(tb testing.TB) (net.PacketConn, net.Listener) {
	tb.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		tb.Cleanup(func() { pc.Close(); ln.Close() })
		return pc, ln
	}
	tb.Fatalf("no UDP port whose TCP twin was free in 20 attempts: %v", lastErr)
	return nil, nil
}

// Canned runs a Raw server that answers every request head (everything up to a blank
// line) with resp, without parsing and without allocating per request, so that a
// benchmark or an allocation count measures the client alone. Heads that arrive
// together (pipelining) are answered together, in one write, in order. Request bodies
// are not supported: the bytes after a head are taken as the next head. A connection
// ends when the client closes it or sends a head larger than 64 KiB.
func Canned(tb testing.TB, resp []byte) string {
	tb.Helper()
	resp = bytes.Clone(resp)
	return Raw(tb, func(c net.Conn, _ int) {
		buf := make([]byte, 64<<10)
		out := make([]byte, 0, 64<<10)
		pending := 0 // bytes of an incomplete head kept at the start of buf
		for pending < len(buf) {
			n, err := c.Read(buf[pending:])
			data := buf[:pending+n]
			out = out[:0]
			for {
				i := bytes.Index(data, []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				data = data[i+4:]
				out = append(out, resp...)
			}
			pending = copy(buf, data)
			if len(out) > 0 {
				if _, werr := c.Write(out); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

// Serve runs h on a hop server (errors logged nowhere) on a free loopback port and
// returns its address, "127.0.0.1:port". At cleanup the server shuts down gracefully
// (5 s at most) and Serve waits for it.
func Serve(tb testing.TB, h server.Handler) string {
	tb.Helper()
	return ServeWith(tb, &server.Server{Handler: h})
}

// ServeWith is Serve for a server configured by the caller (timeouts, limits); a nil
// Logger logs nowhere.
func ServeWith(tb testing.TB, s *server.Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// Buffer is a bytes.Buffer safe for concurrent writers: the log sink of a server
// under test, whose connections write from their own goroutines while the test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// WaitFor polls cond every 5 ms until it holds, failing tb with what after 10 s.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SkipHead reads a request head from c, up to and including its empty line: a raw
// test server's way past the one request it answers regardless. It reads ahead, so
// whatever follows the head in the same segment is dropped too.
func SkipHead(c net.Conn) error {
	br := bufio.NewReader(c)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if l == "\r\n" {
			return nil
		}
	}
}
