//go:build linux

package lab

import (
	"fmt"
	"math"
	"time"

	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/lab/link"
)

// runLoss downloads the same body on a new connection over a lossless link and then
// over the lossy one, and counts what the losses cost.
func runLoss(e *env) error {
	rtt, p := e.rtt(), e.p.Loss
	size := 512 << 10
	if e.short {
		size = 256 << 10
	}
	_, conns, err := e.startServer("web", 80, webHandler(), nil)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/bytes/%d", e.webURL(), size)
	lossy := e.lab.LinkParams()
	clean := lossy
	clean.Loss = 0

	type run struct {
		took    time.Duration
		samples []tcpSample
		start   time.Duration
	}
	transfer := func(lp link.Params) (run, error) {
		if err := e.lab.SetLink(lp); err != nil {
			return run{}, err
		}
		var r run
		r.start = e.now()
		c := e.bulkClient()
		got := e.sampleNext(conns, max(rtt/10, time.Millisecond))
		resp, tm, err := e.get(c, url, nil)
		if err != nil {
			return r, err
		}
		if len(resp.Body) != size {
			return r, fmt.Errorf("got %d of %d bytes", len(resp.Body), size)
		}
		r.took = tm.Total()
		if s := <-got; s != nil {
			r.samples = s.get()
		}
		c.Close()
		return r, e.sleep(2 * rtt)
	}
	var base, lossyRun run
	if err := e.leg("lossless link", func() (err error) { base, err = transfer(clean); return err }); err != nil {
		return err
	}
	if err := e.leg(fmt.Sprintf("%.1f%% loss", p*100), func() (err error) { lossyRun, err = transfer(lossy); return err }); err != nil {
		return err
	}

	// What the link dropped on the lossy transfer's connection, and what TCP resent.
	cp := e.capture()
	var dataLost, acksLost, resent int
	cs := cp.ConnsOf("client")
	if len(cs) > 0 {
		c := cs[len(cs)-1]
		for _, i := range c.Records {
			r := &cp.Records[i]
			switch {
			case r.Dropped() && r.Src == "web" && r.Len > 0:
				dataLost++
			case r.Dropped() && r.Src == "client":
				acksLost++
			}
			if r.Retrans && r.Src == "web" {
				resent++
				e.res.Events = append(e.res.Events, Event{At: r.Sent, Host: "web", Label: "retransmission"})
			}
		}
	}
	retrans := 0
	if n := len(lossyRun.samples); n > 0 {
		retrans = lossyRun.samples[n-1].Retrans
	}
	segs := float64(size) / labMSS
	// Mathis et al.: a Reno-like sender's long-run rate under random loss p is
	// MSS/RTT · sqrt(3/(2p)). Shown for reference: a transfer this short is mostly
	// slow start, loses a few segments, and can beat the steady-state rate.
	mathis := time.Duration(0)
	if p > 0 {
		rate := labMSS / rtt.Seconds() * math.Sqrt(3/(2*p)) // bytes per second
		mathis = time.Duration(float64(size) / rate * float64(time.Second))
	}
	e.measure("lossless_ms", "transfer on the lossless link", "ms", timeline.Millis(base.took))
	e.measure("lossy_ms", fmt.Sprintf("transfer at %.1f%% loss", p*100), "ms", timeline.Millis(lossyRun.took))
	if p > 0 {
		e.measure("mathis_ms", "the same at the Mathis steady-state rate (reference)", "ms", timeline.Millis(mathis))
	}
	e.measurePred("data_lost", "data segments the link dropped", "", float64(dataLost), p*segs)
	e.measure("acks_lost", "ACKs the link dropped", "", float64(acksLost))
	e.measurePred("retransmitted", "segments retransmitted (server TCP_INFO)", "", float64(retrans), float64(dataLost))
	e.measure("retransmissions_seen", "retransmissions on the wire", "", float64(resent))
	e.measure("slowdown", "lossy ÷ lossless", "×", round(float64(lossyRun.took)/float64(max(base.took, 1)), 2))

	if p == 0 {
		e.check(retrans == 0 && dataLost == 0, "no loss set: %d retransmissions", retrans)
	} else {
		e.check(dataLost > 0, "the link dropped %d data segments (%.0f expected at %.1f%%)", dataLost, p*segs, p*100)
		e.check(retrans >= dataLost, "every lost segment was sent again: %d retransmitted for %d lost", retrans, dataLost)
		e.check(lossyRun.took > base.took, "loss made the transfer slower: %s against %s", fmtMs(lossyRun.took), fmtMs(base.took))
	}
	e.note("%d KiB at %.1f%% loss: %s instead of %s; %d segments lost, %d retransmitted",
		size>>10, p*100, fmtMs(lossyRun.took), fmtMs(base.took), dataLost, retrans)

	series := func(name string, r run, f func(tcpSample) float64) Series {
		s := Series{Name: name}
		for _, x := range r.samples {
			s.X, s.Y = append(s.X, timeline.Millis(x.At-r.start)), append(s.Y, f(x))
		}
		return s
	}
	acked := func(x tcpSample) float64 { return float64(x.BytesAcked) / 1024 }
	cwnd := func(x tcpSample) float64 { return float64(x.Cwnd) }
	e.plot(Plot{Title: "Bytes acknowledged over time (server TCP_INFO)", XLabel: "ms since the request", YLabel: "KiB", Kind: "line",
		Series: []Series{series("lossless", base, acked), series(fmt.Sprintf("%.1f%% loss", p*100), lossyRun, acked)}})
	e.plot(Plot{Title: "Congestion window", XLabel: "ms since the request", YLabel: "segments", Kind: "step",
		Series: []Series{series("lossless", base, cwnd), series(fmt.Sprintf("%.1f%% loss", p*100), lossyRun, cwnd)}})
	return nil
}
