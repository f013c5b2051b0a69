//go:build linux

package lab

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/lab/netlab"
)

// discardConn returns a loopback connection to a server that reads and discards
// (no lab needed).
func discardConn(t *testing.T) net.Conn {
	t.Helper()
	addr := testnet.Raw(t, func(c net.Conn, _ int) { io.Copy(io.Discard, c) })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testEnv() *env {
	return newEnv(context.Background(), &netlab.Lab{Start: time.Now()}, Params{}, true, &Result{})
}

// get takes a last sample: what happened since the last tick is in it.
func TestSamplerFinalSample(t *testing.T) {
	e := testEnv()
	defer e.closeAll()
	conn := discardConn(t)
	s := e.sampleTCP(conn, time.Hour) // one sample at the start, then none by the ticker
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.samples)
		s.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no first sample")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := conn.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	// Wait until the peer acknowledged it all.
	for {
		info, err := tcpInfo(conn)
		if err != nil {
			t.Fatal(err)
		}
		if info.Bytes_acked >= 64<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("64 KiB not acknowledged: %d", info.Bytes_acked)
		}
		time.Sleep(time.Millisecond)
	}
	got := s.get()
	if len(got) < 2 || got[len(got)-1].BytesAcked < 64<<10 {
		t.Fatalf("samples %+v: the last one does not show the 64 KiB acknowledged", got)
	}
}

// Nothing samples after the experiment ended: sampleNext gives up, and a sampler
// started late stops at once.
func TestSamplingEndsWithTheExperiment(t *testing.T) {
	e := testEnv()
	conns := &serverConns{ch: make(chan net.Conn, 1)}
	got := e.sampleNext(conns, time.Millisecond)
	e.closeAll()
	select {
	case s := <-got:
		if s != nil {
			t.Error("sampleNext delivered a sampler after the end")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sampleNext still waiting after the experiment ended")
	}
	s := e.sampleTCP(discardConn(t), time.Millisecond)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("a sampler started after the end is still running")
	}
}
