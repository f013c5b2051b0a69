package proxy

import (
	"bytes"
	"io"
	"net"
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
		st, _ := tunnel(c, u, []byte("head+"))
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
