//go:build linux

package link

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
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
	if _, err := tl.l.AddPort(addrA, la); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.l.AddPort(addrB, lb); err != nil {
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

// retry runs fn, which returns what was wrong with one measurement ("" for nothing),
// up to three times, and fails the test with the last problem when every attempt had
// one. A loaded machine delays a measurement now and then; a broken link fails every
// attempt.
func retry(t *testing.T, fn func() string) {
	t.Helper()
	var problem string
	for i := 1; i <= 3; i++ {
		if problem = fn(); problem == "" {
			return
		}
		t.Logf("attempt %d of 3: %s", i, problem)
	}
	t.Error(problem)
}

// held returns how long the link held each tapped packet from start on (read from its
// source to written to its destination), sorted.
func (tl *testLink) held(from int) []time.Duration {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var out []time.Duration
	for _, p := range tl.tapped[from:] {
		out = append(out, p.Written.Sub(p.Read))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func TestDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	tl := newTestLink(t, Params{Delay: delay})
	sent := 0
	retry(t, func() string {
		from := sent
		var lat []time.Duration
		for range 20 {
			start := time.Now()
			unix.Write(tl.a, packet(addrB, uint32(sent), 100))
			seqs, at := recv(t, tl.b, 1, time.Second)
			if len(seqs) != 1 || seqs[0] != uint32(sent) {
				t.Fatalf("packet %d: got %v", sent, seqs)
			}
			sent++
			lat = append(lat, at[0].Sub(start))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		// Never early: a physical bound, whatever the load.
		if lat[0] < delay {
			t.Fatalf("one-way delay %v: a packet arrived after %v", delay, lat[0])
		}
		// The link's own clock (its threads run with a real-time priority): the
		// median held within 2 ms of the delay. The test's end-to-end median, which
		// includes this goroutine's wake-ups, only within 1.5× (a doubled delay fails).
		held := tl.held(from)
		if len(held) != 20 {
			t.Fatalf("tapped %d of 20 packets", len(held))
		}
		if held[0] < delay {
			t.Fatalf("the link held a packet %v, less than the delay %v", held[0], delay)
		}
		if med := held[len(held)/2]; med > delay+2*time.Millisecond {
			return fmt.Sprintf("delay %v: the link held the median packet %v", delay, med)
		}
		if med := lat[len(lat)/2]; med > delay*3/2 {
			return fmt.Sprintf("delay %v: median end to end %v", delay, med)
		}
		return ""
	})
	st := tl.l.Stats(0, 1)
	if st.Packets != int64(sent) || st.Delivered != int64(sent) {
		t.Errorf("stats %+v for %d packets", st, sent)
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, p := range tl.tapped {
		if p.Fate != Delivered {
			t.Errorf("tapped packet %x: fate %v", p.Data[20:24], p.Fate)
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
	want := time.Duration(n * size * 8 * int64(time.Second) / rate) // 500 ms
	sent := 0
	retry(t, func() string {
		from := sent
		for range n {
			unix.Write(tl.a, packet(addrB, uint32(sent), size))
			sent++
		}
		seqs, _ := recv(t, tl.b, n, 5*time.Second)
		if len(seqs) != n {
			t.Fatalf("received %d of %d", len(seqs), n)
		}
		// On the link's clock: from the first packet read to the last written. The
		// line cannot carry them faster (a physical bound); it carries them late only
		// when its scheduler wakes late.
		tl.mu.Lock()
		ps := tl.tapped[from:]
		took := ps[len(ps)-1].Written.Sub(ps[0].Read)
		tl.mu.Unlock()
		if took < want-want/100 {
			t.Fatalf("%d bytes at %d bit/s took %v, faster than the line's %v", n*size, rate, took, want)
		}
		if took > want+want/10 {
			return fmt.Sprintf("%d bytes at %d bit/s took %v, want %v", n*size, rate, took, want)
		}
		return ""
	})
}

// Queue: DefaultQueue for 0, its value when positive, none when negative (a packet is
// admitted only when the line is free). admit is driven with made-up times.
func TestQueueSetting(t *testing.T) {
	const size = 1000 // 1 ms on the line at 8 Mbit/s
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		queue, admitted int
	}{{0, DefaultQueue + 1}, {3, 4}, {-1, 1}} {
		d := &direction{rng: rand.New(rand.NewPCG(1, 1))}
		d.params.Store(&Params{Rate: 8_000_000, Queue: tc.queue})
		ok := 0
		for range DefaultQueue + 10 { // all at once: one on the line, the rest wait
			if _, fate := d.admit(size, t0); fate == Delivered {
				ok++
			}
		}
		if ok != tc.admitted {
			t.Errorf("Queue %d: %d packets admitted at once, want %d (one on the line, the rest waiting)", tc.queue, ok, tc.admitted)
		}
		// Once the line is free again, a packet is admitted whatever the queue.
		if _, fate := d.admit(size, t0.Add(time.Hour)); fate != Delivered {
			t.Errorf("Queue %d: a packet for a free line: %v", tc.queue, fate)
		}
	}
}

// A Start that fails after making its scheduler leaves a link that Close still closes
// (and does not wait for a scheduler that never ran).
func TestStartFailure(t *testing.T) {
	calls := 0
	eventfd = func(initval uint, flags int) (int, error) {
		calls++
		if calls == 2 {
			return -1, unix.EMFILE
		}
		return unix.Eventfd(initval, flags)
	}
	defer func() { eventfd = unix.Eventfd }()
	l := New(1, nil)
	la, _ := pair(t)
	if _, err := l.AddPort(addrA, la); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(Params{}); err == nil {
		t.Fatal("Start succeeded without its eventfd")
	}
	done := make(chan error, 1)
	go func() { done <- l.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close after a failed Start did not return")
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
	for _, p := range []Params{{Delay: -1}, {Delay: 1, Jitter: 2}, {Loss: 1.5}, {Loss: -0.1}, {Rate: -1}} {
		if p.Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if (Params{Delay: time.Millisecond, Jitter: time.Millisecond, Loss: 1, Queue: -1}).Validate() != nil {
		t.Error("valid params refused")
	}
}
