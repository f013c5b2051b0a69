//go:build linux

package lab

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/timeline"
)

// Linux keeps a socket in TIME_WAIT for 60 s (TCP_TIMEWAIT_LEN).
const timeWaitLen = 60 * time.Second

// runTimeWait opens a connection per request at a fixed rate, the client closing each
// one, with a narrow ephemeral port range; then the same rate on persistent
// connections. It samples the TIME_WAIT sockets of both hosts.
func runTimeWait(e *env) error {
	rtt := e.rtt()
	rate, dur, ports := 50, 2*time.Second, 50
	if e.short {
		rate, dur, ports = 40, time.Second, 20
	}
	attempts := int(int64(rate) * int64(dur) / int64(time.Second))
	cli, web := e.host("client"), e.host("web")
	// The keep-alive run takes its ports from a range of its own, so that the sockets
	// it leaves in TIME_WAIT when it ends do not hold any of the narrow range.
	if err := cli.Sysctl("net/ipv4/ip_local_port_range", "41000 41999"); err != nil {
		return err
	}
	if _, _, err := e.startServer("web", 80, webHandler(), nil); err != nil {
		return err
	}
	addr := net.JoinHostPort(web.Addr.String(), "80")
	req := rawHead("GET", "/", 1, "Host", addr)
	interval := time.Second / time.Duration(rate)

	type point struct {
		at         time.Duration
		client, sv int
	}
	// sample records both hosts' TIME_WAIT counts every 50 ms until stop is closed.
	sample := func(from time.Time, stop <-chan struct{}) <-chan []point {
		out := make(chan []point, 1)
		go func() {
			var pts []point
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				c, err1 := cli.SockStat()
				s, err2 := web.SockStat()
				if err1 == nil && err2 == nil {
					pts = append(pts, point{time.Since(from), c.TimeWait, s.TimeWait})
				}
				select {
				case <-stop:
					out <- pts
					return
				case <-t.C:
				}
			}
		}()
		return out
	}
	maxOf := func(p []point, f func(point) int) int {
		m := 0
		for _, x := range p {
			m = max(m, f(x))
		}
		return m
	}

	// atRate starts attempts calls of fn, one every interval, each on its own
	// goroutine (fn gets the attempt's number from 0 and when it started; it locks mu
	// to record its outcome), samples both hosts' TIME_WAIT counts meanwhile and until
	// two round trips after the last one ended, and returns the samples.
	var mu sync.Mutex
	atRate := func(fn func(i int, at time.Duration)) []point {
		start := time.Now()
		stop := make(chan struct{})
		res := sample(start, stop)
		var wg sync.WaitGroup
		tick := time.NewTicker(interval)
		for i := 0; i < attempts; i++ {
			at := time.Since(start)
			wg.Add(1)
			go func() { defer wg.Done(); fn(i, at) }()
			if i < attempts-1 {
				<-tick.C
			}
		}
		tick.Stop()
		wg.Wait()
		e.sleep(2*rtt + 100*time.Millisecond)
		close(stop)
		return <-res
	}

	// Keep-alive first, so that its count is not mixed with the close run's.
	var kaOK, kaConns int
	var kaPts []point
	if err := e.leg(fmt.Sprintf("keep-alive, %d requests/s", rate), func() error {
		c := e.newClient(func(c *client.Client) { c.MaxConnsPerHost = 16 })
		conns := map[uint64]bool{}
		var firstErr error
		kaPts = atRate(func(int, time.Duration) {
			resp, _, err := e.get(c, e.webURL()+"/", nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmp.Or(firstErr, err)
				return
			}
			kaOK++
			conns[resp.ConnID] = true
		})
		kaConns = len(conns)
		c.Close() // its connections go to TIME_WAIT now, after the samples
		return firstErr
	}); err != nil {
		return err
	}
	// Wait for those few closes, then take the baseline.
	if err := e.sleep(2*rtt + 50*time.Millisecond); err != nil {
		return err
	}
	base, err := cli.SockStat()
	if err != nil {
		return err
	}
	if err := cli.Sysctl("net/ipv4/ip_local_port_range", fmt.Sprintf("40000 %d", 40000+ports-1)); err != nil {
		return err
	}

	var ok, refused int
	var firstRefusal time.Duration = -1
	firstRefused := -1 // number of the first refused attempt, from 1
	var closePts []point
	if err := e.leg(fmt.Sprintf("a connection per request, client closes, %d/s, %d ports", rate, ports), func() error {
		var firstErr error
		closePts = atRate(func(i int, at time.Duration) {
			err := closePerRequest(e, addr, req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, syscall.EADDRNOTAVAIL):
				refused++
				if firstRefusal < 0 {
					firstRefusal, firstRefused = at, i+1
				}
			default:
				firstErr = cmp.Or(firstErr, err)
			}
		})
		return firstErr
	}); err != nil {
		return err
	}
	for i := range closePts {
		closePts[i].client -= base.TimeWait
	}

	twMax := maxOf(closePts, func(p point) int { return p.client })
	svMax := max(maxOf(closePts, func(p point) int { return p.sv }), maxOf(kaPts, func(p point) int { return p.sv }))
	kaMax := maxOf(kaPts, func(p point) int { return p.client })
	predTW := min(attempts, ports)
	predRefused := max(attempts-ports, 0)
	predExhaust := time.Duration(ports) * interval
	e.measurePred("close_time_wait_max", "TIME_WAIT sockets at the client, connection per request", "", float64(twMax), float64(predTW))
	e.measurePred("close_ok", "requests answered, connection per request", "", float64(ok), float64(predTW))
	e.measurePred("close_refused", "connects refused: no local port free (EADDRNOTAVAIL)", "", float64(refused), float64(predRefused))
	if firstRefusal >= 0 {
		e.measurePred("first_refused", "first connect refused: attempt number", "", float64(firstRefused), float64(ports+1))
		e.measureMs("exhausted_at_ms", "ports exhausted after", firstRefusal, predExhaust)
	}
	e.measurePred("server_time_wait_max", "TIME_WAIT sockets at the server (the client closed first)", "", float64(svMax), 0)
	e.measurePred("keepalive_time_wait_max", "TIME_WAIT sockets at the client, keep-alive", "", float64(kaMax), 0)
	e.measure("keepalive_ok", "requests answered, keep-alive", "", float64(kaOK))
	e.measure("keepalive_connections", "connections used, keep-alive", "", float64(kaConns))

	e.check(twMax >= predTW*9/10 && twMax <= predTW, "TIME_WAIT grew to %d with a close per request (%d predicted: min(requests, ports))", twMax, predTW)
	e.check(abs(refused-predRefused) <= max(2, predRefused/10), "%d connects refused for lack of a port, %d predicted", refused, predRefused)
	if predRefused > 0 {
		// Attempts start 1/rate apart, each on its own goroutine: on a loaded machine
		// two may take their ports in the other order.
		e.check(abs(firstRefused-(ports+1)) <= 1, "the first refused connect was attempt %d: the %d ports were all in TIME_WAIT (or in use) by then", firstRefused, ports)
	}
	e.check(kaMax == 0 && kaOK == attempts, "keep-alive: %d requests on %d connections, TIME_WAIT stayed %d", kaOK, kaConns, kaMax)
	e.check(svMax == 0, "TIME_WAIT stays with the side that closes first: the server had %d", svMax)
	e.note("%d requests/s for %s: a connection each left up to %d sockets in TIME_WAIT (%d s each) and ran out of its %d ports after %s; keep-alive used %d connections and left none",
		rate, dur, twMax, int(timeWaitLen/time.Second), ports, fmtMs(firstRefusal), kaConns)

	sr := func(name string, p []point) Series {
		s := Series{Name: name}
		for _, x := range p {
			s.X, s.Y = append(s.X, timeline.Millis(x.at)), append(s.Y, float64(x.client))
		}
		return s
	}
	var px, py []float64
	for t := time.Duration(0); t <= dur+2*rtt+100*time.Millisecond; t += 50 * time.Millisecond {
		n := 0
		if t > 2*rtt {
			n = min(int((t-2*rtt)/interval)+1, predTW)
		}
		px, py = append(px, timeline.Millis(t)), append(py, float64(n))
	}
	e.plot(Plot{Title: "TIME_WAIT sockets at the client", XLabel: "ms since the start of the run", YLabel: "sockets", Kind: "step",
		Series: []Series{sr("a connection per request", closePts), sr("keep-alive", kaPts),
			{Name: "predicted (close)", X: px, Y: py, Dashed: true}}})
	return nil
}

// closePerRequest opens a connection, sends req, reads the response and closes the
// connection first.
func closePerRequest(e *env, addr string, req []byte) error {
	conn, err := e.dialRaw(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write(req); err != nil {
		return err
	}
	resp, err := newRawConn(e.ctx, conn).read("GET", time.Now().Add(10*time.Second))
	if err != nil {
		return err
	}
	if resp.Status != 200 {
		return fmt.Errorf("status %d", resp.Status)
	}
	return nil
}
