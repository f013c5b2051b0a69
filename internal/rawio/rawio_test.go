//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection; the server end is attached.
func pair(t *testing.T) (*Conn, *net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := (<-accepted).(*net.TCPConn)
	t.Cleanup(func() { client.Close(); srv.Close() })
	var c Conn
	if !c.Attach(srv) {
		t.Fatal("Attach failed on a *net.TCPConn")
	}
	return &c, srv, client.(*net.TCPConn)
}

func TestAttachOnlyPlainTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var c Conn
	if c.Attach(a) || c.Attached() {
		t.Fatal("Attach succeeded on a net.Pipe")
	}
}

func TestReadWrite(t *testing.T) {
	c, srv, client := pair(t)
	srv.SetDeadline(time.Now().Add(10 * time.Second))
	client.SetDeadline(time.Now().Add(10 * time.Second))
	go client.Write([]byte("hello"))
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read: %q, %v", buf[:n], err)
	}
	// A write larger than the socket buffers completes (EAGAIN waits in the poller).
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(io.LimitReader(client, int64(len(big)))); got <- b }()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("received %d bytes, want %d equal ones", len(b), len(big))
	}
	// The read deadline of the net.Conn applies.
	srv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v", err)
	}
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	client.CloseWrite()
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end: %d, %v", n, err)
	}
}

// WriteBuffers sends every buffer in order, also when the socket takes them in
// pieces that end inside a buffer.
func TestWriteBuffers(t *testing.T) {
	c, srv, client := pair(t)
	srv.SetWriteBuffer(4096) // small: many partial sendmsg calls
	srv.SetDeadline(time.Now().Add(10 * time.Second))
	head := []byte("HTTP/1.1 200 OK\r\n\r\n")
	body := bytes.Repeat([]byte("x"), 3<<20+17)
	tail := []byte("\r\n")
	want := append(append(append([]byte(nil), head...), body...), tail...)
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(20 * time.Millisecond) // let the sender hit EAGAIN first
		b, _ := io.ReadAll(io.LimitReader(client, int64(len(want))))
		got <- b
	}()
	n, err := c.WriteBuffers(head, nil, body, tail)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("WriteBuffers: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("received %d bytes, want %d in order", len(b), len(want))
	}
}

// A write to a peer that went away fails with EPIPE or ECONNRESET; no SIGPIPE is raised
// (the test process would see it through signal.Notify otherwise; here it would just
// be ignored by the runtime, so the point is the error value).
func TestWriteToClosedPeer(t *testing.T) {
	c, srv, client := pair(t)
	srv.SetDeadline(time.Now().Add(10 * time.Second))
	client.SetLinger(0)
	client.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = c.Write([]byte("are you there?"))
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write to a closed peer: %v", err)
	}
}

func TestSendFile(t *testing.T) {
	c, srv, client := pair(t)
	srv.SetDeadline(time.Now().Add(10 * time.Second))
	data := bytes.Repeat([]byte("abcdefghij"), 700000) // 7 MB: more than one sendfile call
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make(chan []byte, 1)
	const off, n = 1234, 6 << 20
	go func() { b, _ := io.ReadAll(io.LimitReader(client, n)); got <- b }()
	sent, err := c.SendFile(int(f.Fd()), off, n, false)
	if err != nil || sent != n {
		t.Fatalf("SendFile: %d, %v", sent, err)
	}
	if b := <-got; !bytes.Equal(b, data[off:off+n]) {
		t.Fatalf("received %d bytes, not the section", len(b))
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
		t.Fatalf("the file offset moved to %d", pos)
	}
	// Past the end: what is there, and no error.
	go func() { b, _ := io.ReadAll(io.LimitReader(client, 10)); got <- b }()
	sent, err = c.SendFile(int(f.Fd()), int64(len(data))-10, 100, true)
	if err != nil || sent != 10 {
		t.Fatalf("SendFile past the end: %d, %v", sent, err)
	}
	<-got
}
