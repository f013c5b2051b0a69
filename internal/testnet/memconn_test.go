package testnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestReadStream(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, tc := range []struct {
		name           string
		per, total, sz int
	}{
		{"one per read, big buffer", 1, 5, 4096},
		{"pipelined, big buffer", 4, 10, 4096},
		{"pipelined, 1-byte reads", 4, 10, 1},
		{"odd buffer", 3, 7, 13},
		{"nothing", 1, 0, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewMemConn(req, tc.per, tc.total, 0)
			var got bytes.Buffer
			buf := make([]byte, tc.sz)
			for i := 0; i < 100000; i++ {
				n, err := c.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if n > len(req)*tc.per {
					t.Fatalf("read %d bytes, more than one batch", n)
				}
			}
			if want := bytes.Repeat(req, tc.total); !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("stream %q, want %q", got.Bytes(), want)
			}
		})
	}
}

func TestWriteKeepsAndCounts(t *testing.T) {
	c := NewMemConn([]byte("x"), 1, 1, 5)
	c.Write([]byte("abc"))
	c.Write([]byte("defgh"))
	if got := string(c.Output()); got != "abcde" {
		t.Fatalf("Output %q, want abcde", got)
	}
	if c.Written() != 8 {
		t.Fatalf("Written %d, want 8", c.Written())
	}
}

func TestEndWaitsForResponses(t *testing.T) {
	c := NewMemConn([]byte("q"), 1, 2, 16)
	c.ResponseSize = func(out []byte) int {
		if len(out) >= 3 {
			return 3
		}
		return 0
	}
	buf := make([]byte, 8)
	c.Read(buf)
	c.Read(buf)
	done := make(chan error, 1)
	go func() { _, err := c.Read(buf); done <- err }()
	c.Write([]byte("ok\n"))
	select {
	case err := <-done:
		t.Fatalf("Read returned %v after one of two responses", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.Write([]byte("ok\n"))
	select {
	case err := <-done:
		if err != io.EOF {
			t.Fatalf("Read returned %v, want io.EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked after both responses")
	}
}

func TestEndHonoursDeadlineAndClose(t *testing.T) {
	c := NewMemConn([]byte("q"), 1, 1, 16)
	c.ResponseSize = func([]byte) int { return 1 }
	c.Read(make([]byte, 1))
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after the deadline: %v", err)
	}
	c = NewMemConn([]byte("q"), 1, 1, 16)
	c.ResponseSize = func([]byte) int { return 1 }
	c.Read(make([]byte, 1))
	go func() { time.Sleep(10 * time.Millisecond); c.Close() }()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("Read after Close: %v, want io.EOF", err)
	}
	<-c.Done()
}

func TestListener(t *testing.T) {
	c := NewMemConn([]byte("q"), 1, 1, 0)
	ln := NewMemListener(c)
	got, err := ln.Accept()
	if err != nil || got != c {
		t.Fatalf("first Accept: %v, %v", got, err)
	}
	go func() { time.Sleep(10 * time.Millisecond); ln.Close() }()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Accept: %v, want net.ErrClosed", err)
	}
	ln.Close()
}
