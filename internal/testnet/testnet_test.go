package testnet

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestRawNumbersConnections(t *testing.T) {
	addr := Raw(t, func(c net.Conn, n int) {
		c.Write([]byte{byte('0' + n)})
	})
	for want := range 3 {
		got, err := io.ReadAll(dial(t, addr)) // closed when handle returns
		if err != nil || string(got) != string(rune('0'+want)) {
			t.Fatalf("connection %d: %q, %v", want, got, err)
		}
	}
}

// Cleanup closes connections whose handler still runs, so that the handler returns.
func TestRawCleanupClosesLiveConnections(t *testing.T) {
	started, returned := make(chan struct{}), make(chan struct{})
	t.Run("server", func(st *testing.T) {
		addr := Raw(st, func(c net.Conn, _ int) {
			defer close(returned)
			close(started)
			io.Copy(io.Discard, c) // until the connection is closed
		})
		dial(t, addr) // the client's end stays open until t ends
		<-started
	})
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler still runs after cleanup")
	}
}

// Pipelined heads, split across writes anywhere, are each answered once, in order.
func TestCanned(t *testing.T) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	c := dial(t, Canned(t, resp))
	head := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	in := bytes.Repeat([]byte(head), 5)
	for _, part := range [][]byte{in[:3], in[3:40], in[40:]} {
		if _, err := c.Write(part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	want := bytes.Repeat(resp, 5)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}
