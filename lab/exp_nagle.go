//go:build linux

package lab

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hop-http/hop/internal/timeline"
)

// Linux's smallest delayed-ACK timeout (TCP_DELACK_MIN).
const delayedACK = 40 * time.Millisecond

// runNagle sends small POST requests as two writes (head, then body) on a persistent
// connection, with Nagle's algorithm on and with TCP_NODELAY, and as one write.
func runNagle(e *env) error {
	rtt := e.rtt()
	n := 6
	if e.short {
		n = 4
	}
	if _, _, err := e.startServer("web", 80, webHandler(), nil); err != nil {
		return err
	}
	addr := net.JoinHostPort(e.host("web").Addr.String(), "80")
	body := []byte("twenty bytes of body")
	head := rawHead("POST", "/echo", 1, "Host", addr, "Content-Type", "text/plain", "Content-Length", strconv.Itoa(len(body)))

	run := func(noDelay, twoWrites bool) ([]time.Duration, error) {
		conn, err := e.dialRaw(addr)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetNoDelay(noDelay)
		rc := newRawConn(e.ctx, conn)
		var lat []time.Duration
		for i := range n {
			start := time.Now()
			conn.SetWriteDeadline(start.Add(10 * time.Second))
			if twoWrites {
				if _, err := conn.Write(head); err != nil {
					return nil, err
				}
				if _, err := conn.Write(body); err != nil {
					return nil, err
				}
			} else if _, err := conn.Write(append(append([]byte(nil), head...), body...)); err != nil {
				return nil, err
			}
			resp, err := rc.read("POST", time.Now().Add(10*time.Second))
			if err != nil {
				return nil, fmt.Errorf("request %d: %w", i+1, err)
			}
			if resp.Status != 200 {
				return nil, fmt.Errorf("request %d: status %d", i+1, resp.Status)
			}
			lat = append(lat, resp.Done.Sub(start))
			if i == 0 {
				e.event("client", "request 1 answered", resp.Done)
			}
		}
		return lat, nil
	}
	var nagle, nodelay, one []time.Duration
	if err := e.leg("two writes, Nagle on", func() (err error) { nagle, err = run(false, true); return err }); err != nil {
		return err
	}
	if err := e.leg("two writes, TCP_NODELAY", func() (err error) { nodelay, err = run(true, true); return err }); err != nil {
		return err
	}
	if err := e.leg("one write, Nagle on", func() (err error) { one, err = run(false, false); return err }); err != nil {
		return err
	}

	// The first request of a connection is answered in the receiver's quick-ACK mode;
	// the stall shows from the second on, once the exchange is interactive.
	mNagle, mNoDelay, mOne := median(nagle[1:]), median(nodelay[1:]), median(one[1:])
	stall := mNagle - mNoDelay
	e.measureMs("nagle_ms", "two writes, Nagle on (median, requests 2…)", mNagle, 2*rtt+delayedACK)
	e.measureMs("nodelay_ms", "two writes, TCP_NODELAY", mNoDelay, rtt)
	e.measureMs("one_write_ms", "one write, Nagle on", mOne, rtt)
	e.measureMs("stall_ms", "the stall: Nagle on − TCP_NODELAY", stall, rtt+delayedACK)
	e.measure("delayed_ack_ms", "the server's delayed ACK (stall − 1 RTT)", "ms", timeline.Millis(stall-rtt))
	e.measure("nagle_first_ms", "two writes, Nagle on, first request (the server ACKs at once: quick-ACK mode)", "ms", timeline.Millis(nagle[0]))

	e.check(stall >= 30*time.Millisecond, "Nagle + delayed ACK stall %s ≥ 30 ms", fmtMs(stall))
	// The delayed ACK waits at least 40 ms and at most about one smoothed RTT.
	e.check(stall >= rtt+30*time.Millisecond && stall <= rtt+max(rtt, delayedACK)+tolerance(rtt),
		"stall %s is one RTT plus a delayed ACK of 40 ms to max(RTT, 40 ms)", fmtMs(stall))
	e.near("TCP_NODELAY", mNoDelay, rtt, tolerance(rtt))
	e.near("one write", mOne, rtt, tolerance(rtt))
	e.note("second write held by Nagle until the delayed ACK: %s per request with two writes, %s with TCP_NODELAY, %s with one write",
		fmtMs(mNagle), fmtMs(mNoDelay), fmtMs(mOne))

	series := func(name string, d []time.Duration) Series {
		s := Series{Name: name}
		for i, x := range d {
			s.X, s.Y = append(s.X, float64(i+1)), append(s.Y, timeline.Millis(x))
		}
		return s
	}
	e.plot(Plot{Title: "Request latency on a persistent connection", XLabel: "request", YLabel: "ms", Kind: "line",
		Series: []Series{series("two writes, Nagle on", nagle), series("two writes, TCP_NODELAY", nodelay), series("one write, Nagle on", one)}})
	return nil
}
