//go:build linux

package link

import (
	"encoding/binary"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns a link port descriptor and the test's end of it: a datagram socket
// pair, which keeps packet boundaries as a TUN device does.
func pair(t *testing.T) (linkEnd, testEnd int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	return fds[0], fds[1]
}

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
)

// packet builds a fake IPv4 packet of size bytes to dst carrying seq.
func packet(dst netip.Addr, seq uint32, size int) []byte {
	b := make([]byte, max(size, 24))
	b[0] = 0x45
	d := dst.As4()
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint32(b[20:], seq)
	return b
}

type testLink struct {
	l      *Link
	a, b   int // test ends
	mu     sync.Mutex
	tapped []Packet
}

func newTestLink(t *testing.T, p Params) *testLink {
	t.Helper()
	tl := &testLink{}
	tl.l = New(1, func(p *Packet) {
		tl.mu.Lock()
		tl.tapped = append(tl.tapped, *p)
		tl.mu.Unlock()
	})
	la, ta := pair(t)
	lb, tb := pair(t)
	tl.a, tl.b = ta, tb
	if _, err := tl.l.AddPort("a", addrA, la); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.l.AddPort("b", addrB, lb); err != nil {
		t.Fatal(err)
	}
	if err := tl.l.Start(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.l.Close() })
	return tl
}

// recv reads packets from fd until n arrived or the timeout passed, returning their
// sequence numbers and arrival times.
func recv(t *testing.T, fd, n int, timeout time.Duration) ([]uint32, []time.Time) {
	t.Helper()
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	var seqs []uint32
	var at []time.Time
	buf := make([]byte, 2048)
	end := time.Now().Add(timeout)
	for len(seqs) < n && time.Now().Before(end) {
		m, err := unix.Read(fd, buf)
		if err != nil || m < 24 {
			continue
		}
		seqs = append(seqs, binary.BigEndian.Uint32(buf[20:]))
		at = append(at, time.Now())
	}
	return seqs, at
}

func TestDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	tl := newTestLink(t, Params{Delay: delay})
	var lat []time.Duration
	for i := range 20 {
		start := time.Now()
		unix.Write(tl.a, packet(addrB, uint32(i), 100))
		seqs, at := recv(t, tl.b, 1, time.Second)
		if len(seqs) != 1 || seqs[0] != uint32(i) {
			t.Fatalf("packet %d: got %v", i, seqs)
		}
		lat = append(lat, at[0].Sub(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	med := lat[len(lat)/2]
	// Generous: the machine is shared. Never early, and within 2 ms late at the median.
	if lat[0] < delay || med > delay+2*time.Millisecond {
		t.Errorf("one-way delay %v: min %v, median %v", delay, lat[0], med)
	}
	st := tl.l.Stats(0, 1)
	if st.Packets != 20 || st.Delivered != 20 {
		t.Errorf("stats %+v", st)
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.tapped) != 20 {
		t.Fatalf("tapped %d packets", len(tl.tapped))
	}
	for _, p := range tl.tapped {
		if p.Fate != Delivered || p.Written.Sub(p.Read) < delay {
			t.Errorf("tapped packet %+v: fate %v, held %v", p.Data[20:24], p.Fate, p.Written.Sub(p.Read))
		}
	}
}

func TestLossRate(t *testing.T) {
	const n = 10000
	tl := newTestLink(t, Params{Loss: 0.05})
	go func() {
		for i := range n {
			unix.Write(tl.a, packet(addrB, uint32(i), 64))
			if i%100 == 99 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	seqs, _ := recv(t, tl.b, n, 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	st := tl.l.Stats(0, 1)
	if st.Packets != n {
		t.Fatalf("link read %d of %d packets", st.Packets, n)
	}
	if st.Lost+int64(len(seqs)) != n {
		t.Errorf("lost %d + received %d != %d", st.Lost, len(seqs), n)
	}
	// 5% of 10,000: 500 expected, standard deviation 22; 20% is 4.5 of them.
	if st.Lost < 400 || st.Lost > 600 {
		t.Errorf("lost %d of %d at 5%%", st.Lost, n)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("reordered: %d after %d", seqs[i], seqs[i-1])
		}
	}
}

func TestRate(t *testing.T) {
	const rate = 8_000_000 // 1 MB/s
	tl := newTestLink(t, Params{Rate: rate, Queue: 10000})
	const n, size = 500, 1000
	start := time.Now()
	for i := range n {
		unix.Write(tl.a, packet(addrB, uint32(i), size))
	}
	seqs, at := recv(t, tl.b, n, 5*time.Second)
	if len(seqs) != n {
		t.Fatalf("received %d of %d", len(seqs), n)
	}
	took := at[len(at)-1].Sub(start)
	want := time.Duration(n * size * 8 * int64(time.Second) / rate) // 500 ms
	if took < want || took > want+want/10 {
		t.Errorf("%d bytes at %d bit/s took %v, want %v", n*size, rate, took, want)
	}
}

func TestQueueFull(t *testing.T) {
	tl := newTestLink(t, Params{Rate: 1_000_000, Queue: 10})
	for i := range 100 {
		unix.Write(tl.a, packet(addrB, uint32(i), 1000))
	}
	seqs, _ := recv(t, tl.b, 100, 500*time.Millisecond)
	st := tl.l.Stats(0, 1)
	if st.QueueFull == 0 || int64(len(seqs))+st.QueueFull != 100 {
		t.Errorf("received %d, queue drops %d", len(seqs), st.QueueFull)
	}
}

func TestNoRoute(t *testing.T) {
	tl := newTestLink(t, Params{})
	unix.Write(tl.a, packet(netip.MustParseAddr("192.0.2.99"), 1, 64))
	unix.Write(tl.a, []byte{0x60, 0, 0, 0}) // IPv6, short
	deadline := time.Now().Add(time.Second)
	for tl.l.Unrouted() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := tl.l.Unrouted(); got != 2 {
		t.Errorf("unrouted %d, want 2", got)
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []Params{{Delay: -1}, {Delay: 1, Jitter: 2}, {Loss: 1.5}, {Rate: -1}, {Queue: -1}} {
		if p.Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if (Params{Delay: time.Millisecond, Jitter: time.Millisecond, Loss: 1}).Validate() != nil {
		t.Error("valid params refused")
	}
}
