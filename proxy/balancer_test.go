package proxy

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/server"
)

// named is an origin that answers with its name.
func named(t testing.TB, name string) string {
	return serve(t, server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) {
		w.WriteString(name)
	}))
}

func TestRoundRobin(t *testing.T) {
	a, b, c := named(t, "a"), named(t, "b"), named(t, "c")
	addr, _ := reverseProxy(t, nil, "http://"+a, "http://"+b, "http://"+c)
	var got []string
	for range 6 {
		_, body := get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
		got = append(got, body)
	}
	s := strings.Join(got, "")
	if s[:3] != s[3:] || !strings.Contains(s[:3], "a") || !strings.Contains(s[:3], "b") || !strings.Contains(s[:3], "c") {
		t.Errorf("round-robin order %q: want each upstream once per round, the same order every round", s)
	}
}

func TestLeastConn(t *testing.T) {
	slow := named(t, "slow")
	fast := named(t, "fast")
	bal, err := NewBalancer(LeastConn, "http://"+slow, "http://"+fast)
	if err != nil {
		t.Fatal(err)
	}
	// Pin the busy upstream: a request in flight on "slow" (a body not yet read).
	be := bal.backends[0]
	be.inflight.Add(1)
	tr := &Transport{Client: testClient(t), Upstreams: bal}
	p := &Proxy{Exchanger: tr, Reverse: true}
	addr := serve(t, p)
	for i := range 6 {
		if _, body := get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n"); body != "fast" {
			t.Errorf("request %d went to %q with a request in flight there", i, body)
		}
	}
	be.inflight.Add(-1)
	// Equal counts: both get requests.
	seen := map[string]int{}
	for range 6 {
		_, body := get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
		seen[body]++
	}
	if seen["slow"] == 0 || seen["fast"] == 0 {
		t.Errorf("with no request in flight: %v", seen)
	}
	if st := bal.States(); st[0].InFlight != 0 || st[1].InFlight != 0 {
		t.Errorf("in-flight counts leak: %+v", st)
	}
}

// TestPassiveHealth: a dead upstream is ejected after MaxFails connection failures
// (requests fail over to the live one, so clients see no error), gets no traffic while
// ejected, and is probed again after the back-off; when it is back, the probe brings it
// back into rotation.
func TestPassiveHealth(t *testing.T) {
	live := named(t, "live")
	deadAddr := closedPort(t)
	bal, err := NewBalancer(RoundRobin, "http://"+deadAddr, "http://"+live)
	if err != nil {
		t.Fatal(err)
	}
	advance := fakeClock(bal)
	tr := &Transport{Client: testClient(t), Upstreams: bal}
	addr := serve(t, &Proxy{Exchanger: tr, Reverse: true})
	for i := range 10 {
		resp, body := get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
		if resp.StatusCode != 200 || body != "live" {
			t.Fatalf("request %d: %d %q (failover to the live upstream expected)", i, resp.StatusCode, body)
		}
	}
	st := bal.States()[0]
	if st.Healthy || st.Ejected != 1 || st.Fails != DefaultMaxFails {
		t.Fatalf("dead upstream after 10 requests: %+v (want ejected once after %d failures)", st, DefaultMaxFails)
	}
	// Ejected: the dead upstream gets no request (its failure count stays).
	for range 4 {
		get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
	}
	if st := bal.States()[0]; st.Fails != DefaultMaxFails {
		t.Errorf("an ejected upstream was tried: %+v", st)
	}
	// After the back-off, one probe; it fails: ejected again, for twice as long.
	advance(DefaultEjectFirst + time.Millisecond)
	get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
	get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
	if st := bal.States()[0]; st.Ejected != 2 || st.Fails != DefaultMaxFails+1 {
		t.Fatalf("after a failed probe: %+v", st)
	}
	advance(DefaultEjectFirst + time.Millisecond) // not yet: the back-off doubled
	get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
	get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
	if st := bal.States()[0]; st.Fails != DefaultMaxFails+1 {
		t.Fatalf("probed before the doubled back-off ended: %+v", st)
	}
	// The upstream comes back; after the back-off the probe succeeds.
	ln, err := net.Listen("tcp", deadAddr)
	if err != nil {
		t.Skipf("cannot listen on the dead upstream's port again: %v", err)
	}
	back := &server.Server{Handler: server.HandlerFunc(func(w *server.ResponseWriter, r *server.Request) { w.WriteString("back") })}
	go back.Serve(ln)
	t.Cleanup(func() { back.Close() })
	advance(2 * DefaultEjectFirst)
	seen := map[string]int{}
	for range 6 {
		_, body := get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
		seen[body]++
	}
	if st := bal.States()[0]; !st.Healthy || st.Fails != 0 || seen["back"] == 0 {
		t.Errorf("after recovery: %+v, answers %v", st, seen)
	}
}

func TestNewBalancerErrors(t *testing.T) {
	for _, u := range []string{"ftp://x", "http://x/?q=1", "http://u:p@x", "/relative"} {
		if _, err := NewBalancer(RoundRobin, u); err == nil {
			t.Errorf("NewBalancer(%q) accepted", u)
		}
	}
	if _, err := NewBalancer(RoundRobin); err == nil {
		t.Error("no upstream accepted")
	}
	if p, err := ParsePolicy("least-conn"); err != nil || p != LeastConn {
		t.Error("ParsePolicy least-conn")
	}
	if _, err := ParsePolicy("random"); err == nil {
		t.Error("ParsePolicy random accepted")
	}
}

func TestUpstreamPathPrefix(t *testing.T) {
	rc := &recorder{}
	origin := serve(t, rc)
	addr, _ := reverseProxy(t, nil, "http://"+origin+"/app/")
	get(t, addr, "GET /x/y?z=1 HTTP/1.1\r\nHost: s\r\n\r\n")
	if h := rc.last(t); !strings.HasPrefix(h, "GET /app/x/y?z=1\n") {
		t.Errorf("origin got %q", h)
	}
}

// TestProbeWithoutVerdict: a probe whose request fails for a reason that says nothing
// about the upstream (here the client's own request body breaks off) ends all the
// same, so the upstream is probed again later rather than left out for ever.
func TestProbeWithoutVerdict(t *testing.T) {
	rc := &recorder{handle: func(w *server.ResponseWriter, r *server.Request) { w.WriteString("probed") }}
	probed := serve(t, rc)
	other := named(t, "other")
	bal, err := NewBalancer(RoundRobin, "http://"+probed, "http://"+other)
	if err != nil {
		t.Fatal(err)
	}
	advance := fakeClock(bal)
	bal.MaxFails = 1
	be := bal.backends[0]
	bal.report(be, false) // ejected
	advance(2 * DefaultEjectFirst)
	addr := serve(t, &Proxy{Exchanger: &Transport{Client: testClient(t), Upstreams: bal}, Reverse: true})
	for i := 0; i < 6; i++ {
		if n, _ := rc.count(); n > 0 {
			break // a broken request reached the ejected upstream: it was the probe
		}
		// A POST whose body stops short: the exchange fails with the client's error.
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: s\r\nContent-Length: 100\r\n\r\nten bytes.")
		time.Sleep(50 * time.Millisecond)
		c.Close()
		testnet.WaitFor(t, "the broken request to end", func() bool { st := bal.States(); return st[0].InFlight == 0 && st[1].InFlight == 0 })
	}
	if n, _ := rc.count(); n == 0 {
		t.Fatal("no broken request was the probe")
	}
	advance(time.Hour)
	seen := map[string]int{}
	for range 6 {
		_, body := get(t, addr, "GET / HTTP/1.1\r\nHost: s\r\n\r\n")
		seen[body]++
	}
	if seen["probed"] == 0 {
		t.Errorf("an hour after a probe that ended without a verdict the upstream got none of 6 requests: %v, %+v", seen, bal.States()[0])
	}
}

// TestLeastConnWithFailingUpstream: an upstream that failed once (not ejected) is
// compared by its requests in flight like the others, not preferred.
func TestLeastConnWithFailingUpstream(t *testing.T) {
	bal, err := NewBalancer(LeastConn, "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")
	if err != nil {
		t.Fatal(err)
	}
	failing := bal.backends[1]
	bal.report(failing, false) // one failure, below MaxFails
	failing.inflight.Add(50)   // and busy
	for i := range 30 {
		be := bal.pick(nil)
		be.inflight.Add(-1)
		if be == failing {
			t.Fatalf("pick %d went to the busy upstream that just failed", i)
		}
	}
}

// fakeClock gives bal a clock that stands still at a fixed time until the returned
// function moves it on.
func fakeClock(bal *Balancer) (advance func(time.Duration)) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	bal.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	return func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
}
