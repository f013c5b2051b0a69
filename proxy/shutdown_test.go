package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/neterr"
	"github.com/hop-http/hop/internal/testnet"
)

// echoUpstream echoes every byte of each connection until it closes.
func echoUpstream(t testing.TB) string {
	return testnet.Raw(t, func(c net.Conn, _ int) { io.Copy(c, c) })
}

// openTunnel sends CONNECT target through the proxy at addr and checks the 200.
func openTunnel(t testing.TB, addr, target string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, addr)
	br := bufio.NewReader(c)
	io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
	if head := readRawHead(t, br); !strings.HasPrefix(head, "HTTP/1.1 200 ") {
		t.Fatalf("CONNECT answer:\n%s", head)
	}
	return c, br
}

// echo writes msg into a tunnel to an echo upstream and reads it back.
func echo(t testing.TB, c net.Conn, br *bufio.Reader, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("writing into the tunnel: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
		t.Fatalf("echo through the tunnel: %q, %v; want %q", got, err, msg)
	}
}

// TestShutdownWaitsForTunnels: Shutdown leaves open tunnels (CONNECT and upgrade)
// working, refuses new ones with 503, and returns as soon as the last tunnel ends.
func TestShutdownWaitsForTunnels(t *testing.T) {
	up := echoUpstream(t)
	addr, p := forwardProxy(t, func(p *Proxy, _ *Transport) { p.ConnectPorts = []int{portNum(t, up)} })
	c, br := openTunnel(t, addr, up)
	echo(t, c, br, "before;")

	ws := wsOrigin(t)
	wc := dial(t, addr)
	wbr := bufio.NewReader(wc)
	io.WriteString(wc, "GET http://"+ws+"/chat HTTP/1.1\r\nHost: "+ws+"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if head := readRawHead(t, wbr); !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade answer:\n%s", head)
	}
	echo(t, wc, wbr, "ws before;")
	if n := p.Tunnels(); n != 2 {
		t.Fatalf("Tunnels() = %d, want 2", n)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- p.Shutdown(ctx)
	}()
	// Shutdown has begun once new tunnels are refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := get(t, addr, "CONNECT "+up+" HTTP/1.1\r\nHost: "+up+"\r\n\r\n")
		if resp.StatusCode == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CONNECT during shutdown: %d, want 503", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp, _ := get(t, addr, "GET http://"+ws+"/chat HTTP/1.1\r\nHost: "+ws+"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"); resp.StatusCode != 503 {
		t.Errorf("upgrade during shutdown: %d, want 503", resp.StatusCode)
	}
	// The open tunnels still carry bytes both ways.
	echo(t, c, br, "during;")
	echo(t, wc, wbr, "ws during;")
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with two tunnels open", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.Close()
	wc.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, wbr)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown after the tunnels ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Shutdown did not return after the tunnels ended (%d open)", p.Tunnels())
	}
}

// TestShutdownCutsTunnelsAtDeadline: a tunnel still open when Shutdown's context
// ends is closed, and Shutdown returns the context's error.
func TestShutdownCutsTunnelsAtDeadline(t *testing.T) {
	up := echoUpstream(t)
	addr, p := forwardProxy(t, func(p *Proxy, _ *Transport) { p.ConnectPorts = []int{portNum(t, up)} })
	c, br := openTunnel(t, addr, up)
	echo(t, c, br, "hello;")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a tunnel open past the deadline: %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("Shutdown returned after %v, before its deadline", el)
	}
	// The client sees the tunnel closed.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err == nil || neterr.IsTimeout(err) {
		t.Errorf("read from a cut tunnel: %d bytes, %v; want the connection closed", n, err)
	}
	if n := p.Tunnels(); n != 0 {
		t.Errorf("%d tunnels still registered after Shutdown", n)
	}
}
