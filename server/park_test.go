//go:build linux

package server

import (
	"bufio"
	"context"
	"fmt"
	"github.com/hop-http/hop/internal/park"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startParkServer serves an echo-path handler with immediate parking.
func startParkServer(t *testing.T, cfg func(*Server)) (*Server, string) {
	t.Helper()
	s := &Server{
		ParkAfter: -1,
		Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
			w.Write(r.Path())
		}),
	}
	if cfg != nil {
		cfg(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, ln.Addr().String()
}

func parked(s *Server) int {
	if s.parker.Load() == nil {
		return -1
	}
	return s.parker.Load().Len()
}

func TestParkedConnectionServesPipelinedBurstInOrder(t *testing.T) {
	s, addr := startParkServer(t, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprint(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := readResponses(t, br, 1); got[0] != "/first" {
		t.Fatalf("got %q", got)
	}
	waitFor(t, "the connection to park", func() bool { return parked(s) == 1 })
	if s.active.Load() != 0 {
		t.Fatalf("parked connection still counted as holding a goroutine: %d", s.active.Load())
	}
	var burst strings.Builder
	const n = 50
	for i := 0; i < n; i++ {
		fmt.Fprintf(&burst, "GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	if _, err := io.WriteString(c, burst.String()); err != nil {
		t.Fatal(err)
	}
	got := readResponses(t, br, n)
	for i, b := range got {
		if b != fmt.Sprintf("/r%d", i) {
			t.Fatalf("response %d is %q: out of order", i, b)
		}
	}
	// And it parks again afterwards.
	waitFor(t, "the connection to park again", func() bool { return parked(s) == 1 })
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestPeerCloseWhileParkedFreesDescriptor(t *testing.T) {
	var closed atomic.Int32
	s, addr := startParkServer(t, func(s *Server) {
		s.ConnState = func(info ConnInfo, st ConnState) {
			if st == StateClosed {
				closed.Add(1)
			}
		}
	})
	// Warm up the parker so its own descriptors exist before counting.
	c0, _ := net.Dial("tcp", addr)
	fmt.Fprint(c0, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponses(t, bufio.NewReader(c0), 1)
	waitFor(t, "park", func() bool { return parked(s) == 1 })
	c0.Close()
	waitFor(t, "close of warm-up conn", func() bool { return closed.Load() == 1 })
	base := countFDs(t)

	const n = 20
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		readResponses(t, bufio.NewReader(c), 1)
		conns = append(conns, c)
	}
	waitFor(t, "all to park", func() bool { return parked(s) == n })
	if fds := countFDs(t); fds < base+2*n {
		t.Fatalf("expected client and server descriptors to be open: %d < %d", fds, base+2*n)
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "parked connections to be closed", func() bool { return closed.Load() == n+1 && parked(s) == 0 })
	waitFor(t, "descriptors to be freed", func() bool { return countFDs(t) <= base })
}

func TestParkedIdleTimeoutOnTime(t *testing.T) {
	const idle = 600 * time.Millisecond
	s, addr := startParkServer(t, func(s *Server) { s.IdleTimeout = idle })
	tick := idle / 10
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	readResponses(t, br, 1)
	start := time.Now()
	waitFor(t, "park", func() bool { return parked(s) == 1 })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = br.ReadByte()
	elapsed := time.Since(start)
	if err != io.EOF {
		t.Fatalf("expected EOF from idle close, got %v", err)
	}
	// Lower bound: never before the timeout minus one tick. Upper bound: one tick late,
	// plus generous scheduling slack for a loaded machine.
	if elapsed < idle-tick {
		t.Fatalf("closed after %v, before the idle timeout %v", elapsed, idle)
	}
	if elapsed > idle+tick+2*time.Second {
		t.Fatalf("closed after %v, long after the idle timeout %v", elapsed, idle)
	}
	t.Logf("idle timeout %v, tick %v: closed after %v", idle, tick, elapsed)
}

func TestShutdownClosesParkedConnections(t *testing.T) {
	s, addr := startParkServer(t, nil)
	var conns []net.Conn
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		readResponses(t, bufio.NewReader(c), 1)
		conns = append(conns, c)
	}
	waitFor(t, "park", func() bool { return parked(s) == 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("parked connection not closed by Shutdown: %v", err)
		}
	}
}

// countingHandler counts log records that mention accept failures.
type countingHandler struct{ n *atomic.Int32 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "accept") {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// TestAcceptSurvivesEMFILE runs in a child process with a low RLIMIT_NOFILE: the
// server runs out of descriptors, backs off without spinning, logs once per burst, and
// serves again once descriptors are freed.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	if os.Getenv("HOP_EMFILE_CHILD") == "1" {
		emfileChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptSurvivesEMFILE$", "-test.v")
	cmd.Env = append(os.Environ(), "HOP_EMFILE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "emfile:") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

func emfileChild(t *testing.T) {
	var logged atomic.Int32
	s := &Server{
		Logger: slog.New(countingHandler{&logged}),
		Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
			w.WriteString("ok")
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// Serve creates the parker's epoll descriptor; create it now, so that it cannot take
	// the descriptor freed for the client below when the goroutine starts late.
	s.startParker()
	go s.Serve(ln)
	defer s.Close()
	// One exchange first, so that whatever Serve sets up (when its goroutine starts
	// late) holds its descriptors before they are counted.
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.ReadAll(c)
		c.Close()
	}
	// Leave room for a handful of descriptors only.
	base := countFDs(t)
	lim := syscall.Rlimit{Cur: uint64(base + 12), Max: uint64(base + 12)}
	var old syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old)
	lim.Max = old.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	// Use up every descriptor, then free one for a client: the connection it makes waits
	// in the listen queue, and the server's accept of it fails with EMFILE. (Dialing
	// until something fails would race the client's descriptors against the server's
	// accepts: with the acceptor quick enough, only the client ever runs out.)
	var spare []*os.File
	for i := 0; i < 64; i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		spare = append(spare, f)
	}
	if len(spare) == 0 {
		t.Fatal("no descriptor left to take")
	}
	spare[len(spare)-1].Close()
	spare = spare[:len(spare)-1]
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial with one descriptor free: %v", err)
	}
	conns := []net.Conn{c}
	time.Sleep(300 * time.Millisecond) // let the acceptor hit EMFILE and back off
	if logged.Load() == 0 {
		t.Fatalf("no accept failure logged with every descriptor in use")
	}
	burst := logged.Load()
	time.Sleep(500 * time.Millisecond)
	if logged.Load() != burst {
		t.Fatalf("accept failure logged per attempt: %d then %d", burst, logged.Load())
	}
	// Free descriptors: close the spares and the client, then the server serves again.
	for _, f := range spare {
		f.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			b, _ := io.ReadAll(c)
			c.Close()
			if strings.HasSuffix(string(b), "ok") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not recover after descriptors were freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("emfile: accept failed with every descriptor in use; %d log line(s); recovered\n", logged.Load())
}

func detachedCount(s *Server) int {
	n := 0
	s.parker.Load().CloseAll(func(e *park.Entry) {
		if e.Value.(*idleConn).detached {
			n++
		}
		s.closeParked(e)
	})
	return n
}

func TestDetachedParkedConnections(t *testing.T) {
	s, addr := startParkServer(t, func(s *Server) { s.DetachAbove = 2 })
	const n = 8
	var conns []net.Conn
	var readers []*bufio.Reader
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "GET /a%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		if got := readResponses(t, br, 1)[0]; got != fmt.Sprintf("/a%d", i) {
			t.Fatalf("conn %d: %q", i, got)
		}
		conns, readers = append(conns, c), append(readers, br)
		waitFor(t, "park", func() bool { return parked(s) == i+1 })
	}
	// Several rounds: each wakes (re-attaching detached sockets), answers a pipelined
	// pair in order, and parks (and detaches) again.
	for round := 0; round < 3; round++ {
		for i, c := range conns {
			fmt.Fprintf(c, "GET /r%d-%d HTTP/1.1\r\nHost: x\r\n\r\nGET /s%d-%d HTTP/1.1\r\nHost: x\r\n\r\n", round, i, round, i)
			got := readResponses(t, readers[i], 2)
			if got[0] != fmt.Sprintf("/r%d-%d", round, i) || got[1] != fmt.Sprintf("/s%d-%d", round, i) {
				t.Fatalf("round %d conn %d: %q", round, i, got)
			}
		}
		waitFor(t, "all to park again", func() bool { return parked(s) == n })
	}
	// A detached connection whose peer closes is cleaned up.
	conns[n-1].Close()
	waitFor(t, "closed peer to leave the parker", func() bool { return parked(s) == n-1 })
	if d := detachedCount(s); d < n-1-2 {
		t.Fatalf("only %d of %d parked connections were detached", d, n-1)
	}
	// detachedCount closed them: the clients see EOF, not a reset or a hang.
	for _, br := range readers[:n-1] {
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("closing a detached connection: %v", err)
		}
	}
}

func TestDetachedIdleTimeout(t *testing.T) {
	s, addr := startParkServer(t, func(s *Server) { s.DetachAbove = 1; s.IdleTimeout = 500 * time.Millisecond })
	request := func() *bufio.Reader {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		readResponses(t, br, 1)
		return br
	}
	request()
	waitFor(t, "the first connection to park", func() bool { return parked(s) == 1 })
	if n := s.detaches.Load(); n != 0 {
		t.Fatalf("%d detached with nothing parked before", n)
	}
	br := request() // parks (before and after its request) with one already parked: detaches
	waitFor(t, "the second connection to park", func() bool { return parked(s) == 2 })
	if n := s.detaches.Load(); n < 1 {
		t.Fatal("the second parked connection was not detached")
	}
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("detached idle connection not closed: %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("closed after %v", el)
	}
	waitFor(t, "parker empty", func() bool { return parked(s) == 0 })
}

// With more connections holding goroutines than ParkGraceConns, an idle connection
// parks at once instead of waiting ParkAfter with its goroutine.
func TestIdleGraceExhaustedParksAtOnce(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	s, addr := startParkServer(t, func(s *Server) {
		s.ParkAfter, s.ParkGraceConns = 30*time.Second, 1
		s.Handler = HandlerFunc(func(w *ResponseWriter, r *Request) {
			if string(r.Path()) == "/busy" {
				started <- struct{}{}
				<-release
			}
			w.Write(r.Path())
		})
	})
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fmt.Fprint(busy, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		if got := readResponses(t, br, 1)[0]; got != fmt.Sprintf("/%d", i) {
			t.Fatalf("request %d: %q", i, got)
		}
		// Long before ParkAfter (30 s): parked only because the grace is exhausted.
		waitFor(t, "the connection to park at once", func() bool { return parked(s) == 1 })
	}
}

// Detaching works while a ConnState hook is set: the hook needs no net.Conn, so a
// detached connection reports parked, active again on wake (with its id and address),
// and closed when it ends.
func TestDetachWithConnStateHook(t *testing.T) {
	var mu sync.Mutex
	states := map[uint64][]string{}
	remotes := map[uint64]string{}
	s, addr := startParkServer(t, func(s *Server) {
		s.DetachAbove = 1
		s.ConnState = func(info ConnInfo, st ConnState) {
			mu.Lock()
			states[info.ID] = append(states[info.ID], st.String())
			remotes[info.ID] = info.Remote.String()
			mu.Unlock()
		}
	})
	var conns []net.Conn
	var readers []*bufio.Reader
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		fmt.Fprintf(c, "GET /a%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		readResponses(t, br, 1)
		conns, readers = append(conns, c), append(readers, br)
		waitFor(t, "park", func() bool { return parked(s) == i+1 })
	}
	if s.detaches.Load() < 1 {
		t.Fatal("nothing was detached with a ConnState hook set")
	}
	// Wake both (one of them detached), then close them.
	for i, c := range conns {
		fmt.Fprintf(c, "GET /b%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		if got := readResponses(t, readers[i], 1)[0]; got != fmt.Sprintf("/b%d", i) {
			t.Fatalf("conn %d after wake: %q", i, got)
		}
	}
	waitFor(t, "both to park again", func() bool { return parked(s) == 2 })
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "both closed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, st := range states {
			if len(st) > 0 && st[len(st)-1] == "closed" {
				n++
			}
		}
		return n == 2
	})
	if st := s.Stats(); st.Detached < 1 || st.Parked != 0 {
		t.Fatalf("Stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, c := range conns {
		id := uint64(i + 1)
		got := strings.Join(states[id], " ")
		// ParkAfter < 0 parks at once, before the first request too.
		if want := "new parked active parked active parked closed"; got != want {
			t.Errorf("conn %d states %q, want %q", id, got, want)
		}
		if remotes[id] != c.LocalAddr().String() {
			t.Errorf("conn %d remote %s, want %s", id, remotes[id], c.LocalAddr())
		}
	}
}

// The parker's tick follows the idle timeout, and with no idle timeout it is the
// slowest one: it woke every 10 ms for nothing (a tenth of 0 taken as the shortest).
func TestParkTick(t *testing.T) {
	for _, tt := range []struct{ idle, want time.Duration }{
		{0, time.Second}, {time.Minute, time.Second}, {10 * time.Second, time.Second},
		{5 * time.Second, 500 * time.Millisecond}, {time.Second, 100 * time.Millisecond},
		{50 * time.Millisecond, 10 * time.Millisecond},
	} {
		if got := parkTick(tt.idle); got != tt.want {
			t.Errorf("parkTick(%v) = %v, want %v", tt.idle, got, tt.want)
		}
	}
	if got := parkTick((&Server{IdleTimeout: -1}).idleTimeout()); got != time.Second {
		t.Errorf("IdleTimeout -1: tick %v, want 1s", got)
	}
}
