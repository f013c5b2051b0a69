//go:build linux

package lab

import (
	"fmt"
	"sort"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/timeline"
)

// runHandshake sends N requests with a new connection each, then N on one persistent
// connection, and compares what each request cost.
func runHandshake(e *env) error {
	rtt := e.rtt()
	n := 10
	if e.short {
		n = 5
	}
	if _, _, err := e.startServer("web", 80, webHandler(), nil); err != nil {
		return err
	}
	url := e.webURL() + "/"

	run := func(c *client.Client, closeEach bool) (times []time.Duration, conns map[uint64]bool, err error) {
		conns = map[uint64]bool{}
		for i := range n {
			resp, tm, err := e.get(c, url, func(r *client.Request) { r.Close = closeEach })
			if err != nil {
				return nil, nil, fmt.Errorf("request %d: %w", i+1, err)
			}
			if i == 1 {
				how := "a new connection"
				if resp.Reused {
					how = "the reused connection"
				}
				e.waterfall(fmt.Sprintf("request 2 on %s", how), tm)
			}
			times = append(times, tm.Total())
			conns[resp.ConnID] = true
		}
		return times, conns, nil
	}
	var closeT, keepT []time.Duration
	var closeConns, keepConns map[uint64]bool
	if err := e.leg("a new connection per request (Connection: close)", func() (err error) {
		closeT, closeConns, err = run(e.newClient(nil), true)
		return err
	}); err != nil {
		return err
	}
	if err := e.sleep(rtt + 50*time.Millisecond); err != nil { // let the last close finish
		return err
	}
	if err := e.leg("one persistent connection", func() (err error) {
		keepT, keepConns, err = run(e.newClient(nil), false)
		return err
	}); err != nil {
		return err
	}

	sum := func(d []time.Duration) (t time.Duration) {
		for _, x := range d {
			t += x
		}
		return t
	}
	newReq := median(closeT)
	reused := median(keepT[1:])
	extra := newReq - reused
	e.measureMs("close_total_ms", fmt.Sprintf("%d requests, a connection each", n), sum(closeT), time.Duration(2*n)*rtt)
	e.measureMs("keepalive_total_ms", fmt.Sprintf("%d requests, one connection", n), sum(keepT), time.Duration(n+1)*rtt)
	e.measureMs("new_conn_request_ms", "request on a new connection (median)", newReq, 2*rtt)
	e.measureMs("reused_request_ms", "request on the reused connection (median)", reused, rtt)
	e.measureMs("new_minus_reused_ms", "what a new connection adds", extra, rtt)
	e.measure("connections_close", "connections opened, Connection: close", "", float64(len(closeConns)))
	e.measure("connections_keepalive", "connections opened, persistent", "", float64(len(keepConns)))

	e.check(len(closeConns) == n, "Connection: close used %d connections for %d requests", len(closeConns), n)
	e.check(len(keepConns) == 1, "keep-alive used %d connection(s)", len(keepConns))
	// Medians, not totals: one request slowed down by a busy machine must not decide.
	e.near("a request on a new connection (median)", newReq, 2*rtt, tolerance(2*rtt))
	e.near("a request on the reused connection (median)", reused, rtt, tolerance(rtt))
	e.near("a new connection's extra cost", extra, rtt, tolerance(rtt))
	e.note("%d requests: %s with a connection each, %s on one connection; a new connection adds %s (%.2f RTT)",
		n, fmtMs(sum(closeT)), fmtMs(sum(keepT)), fmtMs(extra), rtts(extra, rtt))

	cum := func(d []time.Duration) (xs, ys []float64) {
		var t time.Duration
		for i, x := range d {
			t += x
			xs, ys = append(xs, float64(i+1)), append(ys, timeline.Millis(t))
		}
		return
	}
	x1, y1 := cum(closeT)
	x2, y2 := cum(keepT)
	var px, pc, pk []float64
	for i := 1; i <= n; i++ {
		px = append(px, float64(i))
		pc = append(pc, timeline.Millis(time.Duration(2*i)*rtt))
		pk = append(pk, timeline.Millis(time.Duration(i+1)*rtt))
	}
	e.plot(Plot{Title: "Time after each request", XLabel: "requests", YLabel: "ms", Kind: "line", Series: []Series{
		{Name: "a connection each", X: x1, Y: y1},
		{Name: "one connection", X: x2, Y: y2},
		{Name: "predicted: 2 RTT each", X: px, Y: pc, Dashed: true},
		{Name: "predicted: 1 RTT + 1 RTT each", X: px, Y: pk, Dashed: true},
	}})
	return nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
