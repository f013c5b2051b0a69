//go:build linux

package park

import (
	"net"
	"testing"
	"time"
)

func tcpPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); client.Close() })
	return s.(*net.TCPConn), client
}

func fdOf(t *testing.T, c *net.TCPConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

func newTestParker(t *testing.T) (*Parker, chan *Entry, chan *Entry) {
	woke, expired := make(chan *Entry, 16), make(chan *Entry, 16)
	p, err := New(Config{Wake: func(e *Entry) { woke <- e }, Expire: func(e *Entry) { expired <- e }, Tick: time.Hour, Classes: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(nil) })
	return p, woke, expired
}

func TestWakeOnData(t *testing.T) {
	p, woke, _ := newTestParker(t)
	s, c := tcpPair(t)
	e := &Entry{Value: "x"}
	if err := p.Park(e, fdOf(t, s), 0, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 1 {
		t.Fatalf("Len = %d", p.Len())
	}
	select {
	case <-woke:
		t.Fatal("woke before data")
	case <-time.After(50 * time.Millisecond):
	}
	c.Write([]byte("GET"))
	select {
	case got := <-woke:
		if got != e || got.Value != "x" {
			t.Fatal("wrong entry")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no wake")
	}
	if p.Len() != 0 {
		t.Fatalf("Len after wake = %d", p.Len())
	}
	buf := make([]byte, 8)
	n, _ := s.Read(buf)
	if string(buf[:n]) != "GET" {
		t.Fatalf("read %q", buf[:n])
	}
	// Re-park the same descriptor: one-shot re-arms.
	if err := p.Park(e, fdOf(t, s), 0, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("again"))
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("no second wake")
	}
}

func TestWakeOnPeerClose(t *testing.T) {
	p, woke, _ := newTestParker(t)
	s, c := tcpPair(t)
	e := &Entry{}
	p.Park(e, fdOf(t, s), 0, time.Now().Add(time.Minute))
	c.Close()
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("peer close not noticed")
	}
	n, err := s.Read(make([]byte, 1))
	if n != 0 || err == nil {
		t.Fatalf("read after peer close: %d %v", n, err)
	}
}

// Each class has its own queue: an entry with a late deadline at the front of class 0
// must not hide an earlier deadline parked after it in class 1.
func TestExpiryOrderPerClass(t *testing.T) {
	p, woke, expired := newTestParker(t)
	now := time.Now()
	park := func(v any, class int, d time.Duration) {
		s, _ := tcpPair(t)
		if err := p.Park(&Entry{Value: v}, fdOf(t, s), class, now.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	park("late", 0, 10*time.Second)
	park("early", 1, time.Second)
	park("later", 1, 3*time.Second)
	if n := p.Sweep(now.Add(2 * time.Second)); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	if v := (<-expired).Value; v != "early" {
		t.Fatalf("expired %v, want the early class-1 entry", v)
	}
	if p.Len() != 2 {
		t.Fatalf("Len = %d", p.Len())
	}
	if n := p.Sweep(now.Add(5 * time.Second)); n != 1 || (<-expired).Value != "later" {
		t.Fatalf("second sweep expired %d", n)
	}
	if n := p.CloseAll(func(e *Entry) {}); n != 1 {
		t.Fatalf("CloseAll = %d", n)
	}
	select {
	case <-woke:
		t.Fatal("unexpected wake")
	default:
	}
}

func TestWakeAndExpireRace(t *testing.T) {
	// Whatever the interleaving, an entry comes back exactly once.
	for i := 0; i < 15; i++ {
		p, woke, expired := newTestParker(t)
		s, c := tcpPair(t)
		e := &Entry{}
		p.Park(e, fdOf(t, s), 0, time.Now())
		c.Write([]byte("x"))
		p.Sweep(time.Now().Add(time.Second))
		n := 0
		timeout := time.After(2 * time.Second)
	loop:
		for {
			select {
			case <-woke:
				n++
			case <-expired:
				n++
			case <-timeout:
				break loop
			case <-time.After(100 * time.Millisecond):
				break loop
			}
		}
		if n != 1 {
			t.Fatalf("entry came back %d times", n)
		}
	}
}
