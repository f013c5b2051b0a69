//go:build linux

package netlab

import (
	"context"
	"io"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/hop-http/hop/lab/link"
)

// needRoot skips without the privileges namespaces need, unless HOP_REQUIRE_PEERS=1
// (CI runs as root and must run these tests).
func needRoot(t *testing.T) {
	t.Helper()
	if err := Privileged(); err != nil {
		if os.Getenv("HOP_REQUIRE_PEERS") == "1" {
			t.Fatalf("%v and HOP_REQUIRE_PEERS=1", err)
		}
		t.Skip(err)
	}
}

func newLab(t *testing.T, p link.Params, hosts ...string) *Lab {
	t.Helper()
	needRoot(t)
	l, err := New(Config{Hosts: hosts, Link: p, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func TestPingAndTCP(t *testing.T) {
	l := newLab(t, link.Params{Delay: 5 * time.Millisecond}, "client", "web")
	c, w := l.Host("client"), l.Host("web")
	rtts, err := c.Ping(context.Background(), w.Addr, 10, 0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ping rtts %v", rtts)
	if len(rtts) != 10 {
		t.Fatalf("%d of 10 answered", len(rtts))
	}
	ln, err := w.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(s, s)
		s.Close()
	}()
	start := time.Now()
	conn, err := c.Dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("connect %v from %v", time.Since(start), conn.LocalAddr())
	conn.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo %q %v", buf, err)
	}
	conn.Close()
	pk, _ := l.Packets()
	t.Logf("%d packets", len(pk))
	if len(pk) < 20 {
		t.Errorf("only %d packets recorded", len(pk))
	}
}

func TestPingBase(t *testing.T) {
	for _, d := range []time.Duration{0, 500 * time.Microsecond, 5 * time.Millisecond, 100 * time.Millisecond} {
		l := newLab(t, link.Params{Delay: d}, "client", "web")
		rtts, _ := l.Host("client").Ping(context.Background(), l.Host("web").Addr, 20, 0, time.Second)
		t.Logf("delay %v: median %v min %v", d, median(rtts), rtts[0])
		l.Close()
	}
}
