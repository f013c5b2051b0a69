//go:build linux

package netlab

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/hop-http/hop/internal/testpeer"
	"github.com/hop-http/hop/lab/link"
)

// needRoot skips without the privileges namespaces need, unless HOP_REQUIRE_PEERS=1
// (CI runs as root and must run these tests).
func needRoot(t *testing.T) {
	t.Helper()
	if err := Privileged(); err != nil {
		testpeer.Skip(t, "%v", err)
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

func TestCloseRemovesNamespaces(t *testing.T) {
	needRoot(t)
	l, err := New(Config{Hosts: []string{"client", "web"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := namespacesOf(t, l.ID); len(got) != 2 {
		t.Fatalf("namespaces of %s: %v, want client and web", l.ID, got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := namespacesOf(t, l.ID); len(got) != 0 {
		t.Errorf("after Close: %v left", got)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func namespacesOf(t *testing.T, id string) []string {
	ents, err := os.ReadDir(netnsDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), id+"-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// A lab left by a killed process (its PID gone) is removed at the next start; one
// whose process lives is left alone.
func TestCleanStale(t *testing.T) {
	needRoot(t)
	dead := deadPID(t)
	stale := fmt.Sprintf("%s%d-1-client", Prefix, dead)
	live := fmt.Sprintf("%s%d-99-client", Prefix, os.Getpid())
	for _, name := range []string{stale, live} {
		if err := onLockedThread(func() error {
			orig, err := netns.Get()
			if err != nil {
				return err
			}
			defer orig.Close()
			ns, err := netns.NewNamed(name)
			if err != nil {
				return err
			}
			ns.Close()
			return netns.Set(orig)
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { netns.DeleteNamed(live); netns.DeleteNamed(stale) })
	removed := CleanStale()
	if !slices.Contains(removed, stale) {
		t.Errorf("CleanStale removed %v, not the stale %s", removed, stale)
	}
	if slices.Contains(removed, live) {
		t.Errorf("CleanStale removed %s, whose process is alive", live)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, live)); err != nil {
		t.Errorf("live namespace: %v", err)
	}
}

func deadPID(t *testing.T) int {
	for pid := 4_000_000; pid > 3_000_000; pid -= 7919 {
		if !alive(pid) {
			return pid
		}
	}
	t.Fatal("no free PID found")
	return 0
}

// Sysctls, socket counters and sockets belong to the host's namespace, not to the
// process's.
func TestHostIsolation(t *testing.T) {
	l := newLab(t, link.Params{Delay: time.Millisecond}, "client", "web")
	c := l.Host("client")
	if err := c.Sysctl("net/ipv4/ip_local_port_range", "40000 40009"); err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := c.Do(func() error {
		b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
		inside = strings.Join(strings.Fields(string(b)), " ")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	outside, _ := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if inside != "40000 40009" || strings.Join(strings.Fields(string(outside)), " ") == inside {
		t.Errorf("port range inside %q, outside %q", inside, outside)
	}

	ln, err := l.Host("web").Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			s, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, s)
			s.Close()
		}
	}()
	conn, err := c.Dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if p := conn.LocalAddr().(*net.TCPAddr).Port; p < 40000 || p > 40009 {
		t.Errorf("local port %d outside the host's range", p)
	}
	conn.Close() // the client closes first: TIME_WAIT on the client
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := c.SockStat()
		if err != nil {
			t.Fatal(err)
		}
		if st.TimeWait == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client sockstat %+v, want one TIME_WAIT", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st, _ := l.Host("web").SockStat(); st.TimeWait != 0 {
		t.Errorf("web sockstat %+v, want no TIME_WAIT", st)
	}
	// A client socket is bound to its host's address: made outside the lab's
	// namespaces it could not bind, so nothing reaches outside.
	if _, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: c.Addr.AsSlice()}}).Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the client's lab address is bindable outside the lab")
	}
}

// A host dials IP addresses only: net.Dialer would resolve a name outside the lab.
func TestDialRefusesNames(t *testing.T) {
	l := newLab(t, link.Params{}, "client", "web")
	c := l.Host("client")
	for _, network := range []string{"tcp", "udp"} {
		_, err := c.Dial(context.Background(), network, "localhost:80")
		if err == nil || !strings.Contains(err.Error(), "want an IP address and port") {
			t.Errorf("%s dial to a name: %v, want a refusal", network, err)
		}
	}
	conn, err := c.Dial(context.Background(), "udp", l.Host("web").Addr.String()+":9")
	if err != nil {
		t.Fatalf("udp dial to an address: %v", err)
	}
	conn.Close()
}

// The end-to-end RTT matches the setting within 10% once the bare path is taken out
// of the delay. A lab whose calibration or pings a busy moment disturbed is tried
// again, at most three times.
func TestRTTCalibrated(t *testing.T) {
	for _, d := range []time.Duration{500 * time.Microsecond, 5 * time.Millisecond} {
		var m time.Duration
		for try := 0; try < 3; try++ {
			l := newLab(t, link.Params{Delay: d}, "client", "web")
			rtts, err := l.Host("client").Ping(context.Background(), l.Host("web").Addr, 21, 0, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			m = median(rtts)
			l.Close()
			if m >= 2*d*9/10 && m <= 2*d*11/10 {
				break
			}
			t.Logf("one-way delay %v: median RTT %v (bare path %v)", d, m, l.BaseRTT())
		}
		if m < 2*d*9/10 || m > 2*d*11/10 {
			t.Errorf("one-way delay %v: median RTT %v", d, m)
		}
	}
}
