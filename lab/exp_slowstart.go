//go:build linux

package lab

import (
	"fmt"
	"math"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/lab/capture"
)

// Linux's initial congestion window (RFC 6928) and the segment size on the lab's
// 1500-byte MTU with TCP timestamps.
const (
	initialWindow = 10
	labMSS        = 1448
)

// runSlowStart downloads the same body twice: on a new connection (slow start from
// 10 segments) and right after on the same, now warm, connection.
func runSlowStart(e *env) error {
	rtt := e.rtt()
	size := 1 << 20
	if e.short {
		size = 256 << 10
	}
	_, conns, err := e.startServer("web", 80, webHandler(), nil)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/bytes/%d", e.webURL(), size)
	c := e.bulkClient()
	interval := max(rtt/10, time.Millisecond)

	var cold, warm *client.Timings
	var coldSamples, warmSamples []tcpSample
	var coldConn uint64
	if err := e.leg("new connection", func() error {
		got := e.sampleNext(conns, interval)
		resp, tm, err := e.get(c, url, nil)
		if err != nil {
			return err
		}
		if len(resp.Body) != size {
			return fmt.Errorf("got %d of %d bytes", len(resp.Body), size)
		}
		cold, coldConn = tm, resp.ConnID
		if s := <-got; s != nil {
			coldSamples = s.get()
		}
		return nil
	}); err != nil {
		return err
	}
	warmStart := e.now()
	if err := e.leg("the same connection, warm", func() error {
		s := e.sampleTCP(conns.last(), interval)
		resp, tm, err := e.get(c, url, nil)
		if err != nil {
			return err
		}
		if !resp.Reused || resp.ConnID != coldConn {
			return fmt.Errorf("the second request did not reuse the connection")
		}
		warm = tm
		warmSamples = s.get()
		return nil
	}); err != nil {
		return err
	}

	// The prediction: slow start doubles the window every round trip, so from a
	// window of w segments, j round trips carry w·(2^j − 1) segments. A new connection
	// starts from 10; the warm one from the window the first transfer left (TCP_INFO).
	segs := int(math.Ceil(float64(size+200) / labMSS))
	k := slowStartRounds(segs, initialWindow)
	warmCwnd := initialWindow
	if len(warmSamples) > 0 {
		warmCwnd = warmSamples[0].Cwnd
	}
	kw := slowStartRounds(segs, warmCwnd)
	serial := time.Duration(0)
	if e.p.Rate > 0 {
		serial = time.Duration(float64(size) * 8 / float64(e.p.Rate) * float64(time.Second))
	}
	predCold := time.Duration(1+k)*rtt + serial // handshake, then k flights
	predWarm := time.Duration(kw)*rtt + serial

	cp := e.capture()
	var coldFlights, warmFlights []flightView
	if conn := firstConnOf(cp, "client"); conn != nil {
		for _, f := range cp.Flights(conn, "web", 0, rtt/2) {
			fv := flightView{f.Start, f.Segments}
			if f.Start < warmStart {
				coldFlights = append(coldFlights, fv)
			} else {
				warmFlights = append(warmFlights, fv)
			}
		}
	}
	e.measureMs("cold_ms", fmt.Sprintf("%d KiB on a new connection", size>>10), cold.Total(), predCold)
	e.measureMs("warm_ms", fmt.Sprintf("%d KiB on the warm connection", size>>10), warm.Total(), predWarm)
	e.measurePred("cold_flights", "round trips of data, new connection", "", float64(len(coldFlights)), float64(k))
	e.measurePred("warm_flights", "round trips of data, warm connection", "", float64(len(warmFlights)), float64(kw))
	if len(coldSamples) > 0 {
		e.measure("cwnd_start", "cwnd when the transfer started", "segments", float64(coldSamples[0].Cwnd))
		e.measure("cwnd_end", "cwnd at the end of the cold transfer", "segments", float64(coldSamples[len(coldSamples)-1].Cwnd))
	}
	if len(warmSamples) > 0 {
		e.measure("cwnd_warm", "cwnd when the warm transfer started", "segments", float64(warmSamples[0].Cwnd))
	}

	e.near("new connection", cold.Total(), predCold, rtt+tolerance(predCold)/2)
	e.near("warm connection", warm.Total(), predWarm, rtt/2+tolerance(predWarm))
	e.check(abs(len(coldFlights)-k) <= 1, "%d round trips of data on the new connection, %d predicted", len(coldFlights), k)
	e.check(abs(len(warmFlights)-kw) <= 1, "%d round trips of data on the warm connection, %d predicted from its cwnd of %d", len(warmFlights), kw, warmCwnd)
	e.check(cold.Total()-warm.Total() >= time.Duration(k-2)*rtt,
		"slow start costs %s (%.1f RTT) more than the warm connection", fmtMs(cold.Total()-warm.Total()), rtts(cold.Total()-warm.Total(), rtt))
	e.note("%d KiB: %s on a new connection (%d round trips of data), %s on the warm one (%d)",
		size>>10, fmtMs(cold.Total()), len(coldFlights), fmtMs(warm.Total()), len(warmFlights))

	// cwnd per round trip: segments per flight from the wire, TCP_INFO's snd_cwnd at
	// the start of each flight, and the prediction.
	var rx, seg, pred, cw []float64
	for i, f := range coldFlights {
		rx = append(rx, float64(i+1))
		seg = append(seg, float64(f.segments))
		pred = append(pred, float64(initialWindow)*math.Pow(2, float64(i)))
		cw = append(cw, float64(cwndAt(coldSamples, f.start)))
	}
	e.plot(Plot{Title: "Congestion window per round trip (new connection)", XLabel: "round trip", YLabel: "segments",
		Kind: "line", Series: []Series{
			{Name: "segments sent in the round", X: rx, Y: seg},
			{Name: "snd_cwnd (TCP_INFO)", X: rx, Y: cw},
			{Name: "predicted: 10 · 2^(n−1)", X: rx, Y: pred, Dashed: true},
		}})
	return nil
}

// slowStartRounds is how many round trips slow start needs to send segs segments
// starting from a window of w.
func slowStartRounds(segs, w int) int {
	w = max(w, 1)
	j, sent := 0, 0
	for sent < segs {
		sent += w << j
		j++
	}
	return j
}

type flightView struct {
	start    time.Duration
	segments int
}

// firstConnOf returns the first connection host opened.
func firstConnOf(cp *capture.Capture, host string) *capture.Conn {
	if cs := cp.ConnsOf(host); len(cs) > 0 {
		return cs[0]
	}
	return nil
}

func cwndAt(s []tcpSample, at time.Duration) int {
	c := 0
	for _, x := range s {
		if x.At > at {
			break
		}
		c = x.Cwnd
	}
	if c == 0 && len(s) > 0 {
		c = s[0].Cwnd
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
