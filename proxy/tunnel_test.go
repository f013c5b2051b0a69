package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
)

// TestTunnelHalfClose: the client sends, then half-closes; the upstream sees the end of
// the stream only after every byte (head first), answers, and closes; the client reads
// the whole answer. Both directions run over plain TCP (spliced on Linux).
func TestTunnelHalfClose(t *testing.T) {
	upstream := testnet.Raw(t, func(c net.Conn, _ int) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c) // until the client's half-close crosses the tunnel
		if err != nil {
			return
		}
		c.Write([]byte("received " + string(got)))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan TunnelStats, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", upstream)
		if err != nil {
			c.Close()
			return
		}
		st, _ := tunnel(c, u, []byte("head+"), 0)
		done <- st
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	payload := bytes.Repeat([]byte("x"), 1<<20)
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	want := "received head+" + string(payload)
	if string(got) != want {
		t.Errorf("client got %d bytes, want %d", len(got), len(want))
	}
	select {
	case st := <-done:
		if st.Up != int64(len(payload)+5) || st.Down != int64(len(want)) {
			t.Errorf("stats %+v", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the tunnel did not end after both sides closed")
	}
}

// A tunnel in which nothing moves either way is closed after TunnelIdleTimeout, and
// so is one half-closed by the client while the target neither sends nor closes;
// both are counted (TunnelCounts.IdleClosed). A tunnel that keeps carrying bytes one
// way, for several idle times, is not closed.
func TestTunnelIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	stop := make(chan struct{})
	// The target reads what comes and never answers nor closes on its own.
	target := testnet.Raw(t, func(c net.Conn, _ int) {
		go func() { <-stop; c.Close() }()
		io.Copy(io.Discard, c)
		<-stop
	})
	t.Cleanup(func() { close(stop) })
	addr, p := forwardProxy(t, func(p *Proxy, _ *Transport) {
		p.ConnectPorts = []int{portNum(t, target)}
		p.TunnelIdleTimeout = idle
	})
	for _, halfClose := range []bool{false, true} {
		c, br := openTunnel(t, addr, target)
		if halfClose {
			c.(*net.TCPConn).CloseWrite()
		}
		start := time.Now()
		if _, err := io.ReadAll(br); err != nil { // the dial deadline (20 s) bounds it
			t.Fatalf("half-closed %v: the idle tunnel was not closed: %v", halfClose, err)
		}
		if d := time.Since(start); d < idle {
			t.Errorf("half-closed %v: closed after %v, before the idle timeout %v", halfClose, d, idle)
		}
	}
	testnet.WaitFor(t, "the idle tunnels to be counted", func() bool { return p.TunnelCounts().IdleClosed == 2 })

	// Bytes every 50 ms (a tenth of the idle timeout) for 6 idle times: kept open.
	c, _ := openTunnel(t, addr, target)
	for end := time.Now().Add(6 * idle); time.Now().Before(end); time.Sleep(idle / 10) {
		if _, err := c.Write([]byte("tick")); err != nil {
			t.Fatalf("a tunnel carrying bytes was closed: %v", err)
		}
	}
	if n := p.TunnelCounts().IdleClosed; n != 2 {
		t.Errorf("IdleClosed = %d after a busy tunnel, want 2", n)
	}
	if p.Tunnels() != 1 {
		t.Errorf("Tunnels() = %d, want the busy one open", p.Tunnels())
	}
}

// At most MaxTunnels tunnels are open at once: the next CONNECT is answered 503 and
// counted (TunnelCounts.Refused), and once one closes a new one is accepted.
func TestMaxTunnels(t *testing.T) {
	echo := echoUpstream(t)
	addr, p := forwardProxy(t, func(p *Proxy, _ *Transport) {
		p.ConnectPorts = []int{portNum(t, echo)}
		p.MaxTunnels = 2
		p.Metrics = NewMetrics(nil, nil, nil)
	})
	a, _ := openTunnel(t, addr, echo)
	openTunnel(t, addr, echo)
	c := dial(t, addr)
	resp, _ := roundTrip(t, c, bufio.NewReader(c), "CONNECT "+echo+" HTTP/1.1\r\nHost: "+echo+"\r\n\r\n")
	if resp.StatusCode != 503 {
		t.Fatalf("CONNECT past MaxTunnels: %d, want 503", resp.StatusCode)
	}
	if got := p.TunnelCounts(); got.Refused != 1 || got.Open != 2 {
		t.Errorf("TunnelCounts = %+v, want 1 refused, 2 open", got)
	}
	testnet.WaitFor(t, "the refusal in the metrics", func() bool {
		rec := httptest.NewRecorder()
		p.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return strings.Contains(rec.Body.String(), `hop_proxy_errors_total{kind="tunnel_limit"} 1`+"\n")
	})
	a.Close()
	testnet.WaitFor(t, "the closed tunnel to end", func() bool { return p.Tunnels() == 1 })
	b, br := openTunnel(t, addr, echo)
	io.WriteString(b, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Errorf("through the tunnel after one closed: %q %v", buf, err)
	}
}
