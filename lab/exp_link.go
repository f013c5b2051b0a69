//go:build linux

package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hop-http/hop/internal/timeline"
)

// The loss probe sends up to lossProbePackets datagrams of lossProbeSize bytes (an
// 8-byte payload: 36 bytes of IP), paced at most at half the line rate and for at
// most lossProbeTime.
const (
	lossProbePackets = 10000
	lossProbeSize    = 20 + 8 + 8
	lossProbeTime    = 6 * time.Second
)

// echoSize is the IP size of the ping probe's echo request and reply (56 bytes of
// data, as ping sends).
const echoSize = 20 + 8 + 56

// runLink probes the link itself: RTT with ICMP echo (answered by the web host's
// kernel), loss with up to 10,000 UDP datagrams, and throughput with a TCP transfer.
func runLink(e *env) error {
	c, w := e.host("client"), e.host("web")
	rtt := e.rtt()

	// RTT.
	n := 30
	if e.short {
		n = 12
	}
	var samples []time.Duration
	if err := e.leg("ping", func() (err error) {
		samples, err = c.Ping(e.ctx, w.Addr, n, 0, 4*rtt+time.Second)
		return err
	}); err != nil {
		return err
	}
	if len(samples) == 0 {
		return errors.New("no ping was answered")
	}
	sorted := append([]time.Duration(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	med := sorted[len(sorted)/2]
	// At a limited rate each echo also spends its serialization time on the line,
	// once each way.
	predRTT := rtt + 2*serialization(echoSize, e.p.Rate)
	e.measureMs("rtt_ms", "RTT (median ICMP echo)", med, predRTT)
	e.measure("rtt_min_ms", "RTT, fastest echo", "ms", timeline.Millis(sorted[0]))
	e.measure("rtt_max_ms", "RTT, slowest echo", "ms", timeline.Millis(sorted[len(sorted)-1]))
	e.measure("base_rtt_ms", "bare path RTT (taken out of the delay)", "ms", timeline.Millis(e.lab.BaseRTT()))
	tol := predRTT/10 + 100*time.Microsecond
	e.near("median RTT", med, predRTT, tol)
	var xs, ys []float64
	for i, s := range samples {
		xs, ys = append(xs, float64(i+1)), append(ys, timeline.Millis(s))
	}
	e.plot(Plot{Title: "RTT of each echo", XLabel: "echo", YLabel: "ms", Kind: "line", Series: []Series{
		{Name: "measured", X: xs, Y: ys},
		{Name: "setting", X: []float64{1, float64(len(samples))}, Y: []float64{timeline.Millis(rtt), timeline.Millis(rtt)}, Dashed: true},
	}})

	// Loss, one direction.
	var lost, sent int64
	if err := e.leg("loss probe", func() (err error) {
		lost, sent, err = e.lossProbe()
		return err
	}); err != nil {
		return err
	}
	pct := float64(lost) * 100 / float64(sent)
	e.measurePred("loss_pct", fmt.Sprintf("loss, client → web, of %d datagrams", sent), "%", pct, e.p.Loss*100)
	if p := e.p.Loss; p > 0 {
		// Within 20% of the setting, or three standard deviations of the count of
		// losses (a binomial draw) when that is more: 10,000 datagrams at 1% lose
		// 100 ± 10.
		tol := max(0.2*p, 3*math.Sqrt(p*(1-p)/float64(sent))) * 100
		d := pct - p*100
		e.check(d <= tol && d >= -tol, "loss %.2f%% within %.2f%% of the setting %.2f%% (of %d datagrams)", pct, tol, p*100, sent)
	} else {
		e.check(lost == 0, "no datagram lost on a lossless link (lost %d of %d)", lost, sent)
	}

	// Throughput, web → client.
	var ip, good float64
	if err := e.leg("throughput", func() (err error) {
		e.lab.SetSnap(128) // headers only: a second of bulk data would be hundreds of MiB
		defer e.lab.SetSnap(0)
		ip, good, err = e.rateProbe()
		return err
	}); err != nil {
		return err
	}
	if e.p.Rate > 0 {
		e.measurePred("rate_bps", "throughput at the client's end (IP bytes)", "bit/s", ip, float64(e.p.Rate))
		e.measure("goodput_bps", "goodput (TCP payload)", "bit/s", good)
		e.check(ip >= 0.9*float64(e.p.Rate) && ip <= 1.1*float64(e.p.Rate),
			"throughput %s within 10%% of the rate %s", FormatRate(int64(ip)), FormatRate(e.p.Rate))
		e.note("RTT %s for %s set; loss %.2f%% for %.2f%%; %s for %s",
			fmtMs(med), fmtMs(rtt), pct, e.p.Loss*100, FormatRate(int64(ip)), FormatRate(e.p.Rate))
	} else {
		e.measure("rate_bps", "throughput at the client's end (IP bytes; no rate set)", "bit/s", ip)
		e.measure("goodput_bps", "goodput (TCP payload)", "bit/s", good)
		e.note("RTT %s for %s set; loss %.2f%% for %.2f%%; unlimited rate carried %s",
			fmtMs(med), fmtMs(rtt), pct, e.p.Loss*100, FormatRate(int64(ip)))
	}
	return nil
}

// lossProbe sends numbered datagrams from client to web and returns how many did not
// arrive of how many were sent. They are paced at most at half the line rate (and
// the link's own speed), so that only the loss setting drops them, and sent for at
// most lossProbeTime (fewer than lossProbePackets at a low rate).
func (e *env) lossProbe() (lost, sent int64, err error) {
	c, w := e.host("client"), e.host("web")
	pc, err := w.ListenPacket("udp", ":9")
	if err != nil {
		return 0, 0, err
	}
	defer pc.Close()
	// Room for every datagram (about 800 bytes of buffer each), so that a receiver
	// slowed down by a busy machine drops none: only the link may lose them.
	if err := forceReadBuffer(pc, 16<<20); err != nil {
		return 0, 0, err
	}
	var got atomic.Int64
	seen := make([]bool, lossProbePackets)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 4 {
				if i := binary.BigEndian.Uint32(buf); int(i) < len(seen) && !seen[i] {
					seen[i] = true
					got.Add(1)
				}
			}
		}
	}()
	conn, err := c.Dial(e.ctx, "udp", net.JoinHostPort(w.Addr.String(), "9"))
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	n, interval := lossProbePlan(e.p.Rate)
	msg := make([]byte, lossProbeSize-28)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < n; {
		// Send every datagram whose time has come, then wait for the next tick.
		for now := time.Now(); i < n && !now.Before(start.Add(time.Duration(i)*interval)); i++ {
			binary.BigEndian.PutUint32(msg, uint32(i))
			if _, err := conn.Write(msg); err != nil {
				return 0, 0, err
			}
		}
		select {
		case <-e.ctx.Done():
			return 0, 0, e.ctx.Err()
		case <-tick.C:
		}
	}
	// Wait for the last ones to cross (one-way delay plus a margin).
	if err := e.sleep(e.rtt()/2 + 200*time.Millisecond); err != nil {
		return 0, 0, err
	}
	pc.Close()
	<-done
	return int64(n) - got.Load(), int64(n), nil
}

// lossProbePlan returns how many datagrams the loss probe sends and how far apart: 20
// per millisecond, or at a limited rate one per two datagrams' serialization time
// (half the line rate), at most lossProbePackets and at most lossProbeTime's worth.
func lossProbePlan(rate int64) (int, time.Duration) {
	interval := time.Millisecond / 20
	if rate > 0 {
		interval = max(interval, 2*serialization(lossProbeSize, rate))
	}
	return int(min(lossProbePackets, int64(lossProbeTime/interval))), interval
}

// serialization is how long size bytes occupy a line of rate bits per second (0: no
// limit).
func serialization(size int, rate int64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(int64(size) * 8 * int64(time.Second) / rate)
}

// rateProbe downloads from web to client over TCP for a fixed time and returns the
// throughput at the client's end in IP bits per second (from the link's delivery
// times) and the goodput the client's program saw, both over the last four fifths of
// the transfer (the first fifth is slow start).
func (e *env) rateProbe() (ip, good float64, err error) {
	c, w := e.host("client"), e.host("web")
	dur := 1500 * time.Millisecond
	if e.short {
		dur = 800 * time.Millisecond
	}
	dur = max(dur, 10*e.rtt())
	ln, err := w.Listen("tcp", ":5001")
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		s.SetWriteDeadline(time.Now().Add(dur + 10*time.Second))
		buf := make([]byte, 64<<10)
		for {
			if _, err := s.Write(buf); err != nil {
				return // the client closed
			}
		}
	}()
	conn, err := c.Dial(e.ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	start := time.Now()
	from, end := start.Add(dur/5), start.Add(dur)
	conn.SetReadDeadline(end)
	buf := make([]byte, 64<<10)
	var counted int64
	var first, last time.Time
	for {
		n, err := conn.Read(buf)
		now := time.Now()
		if n > 0 && !now.Before(from) {
			if first.IsZero() {
				first = now
			} else {
				counted += int64(n)
			}
			last = now
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			return 0, 0, err
		}
	}
	if !last.After(first) {
		return 0, 0, errors.New("nothing arrived after slow start")
	}
	good = float64(counted) * 8 / last.Sub(first).Seconds()

	// IP throughput at the client's end: bytes of web → client packets written to the
	// client's device over the same span.
	pkts, _ := e.lab.Packets()
	var bytes int64
	var pf, pl time.Time
	for _, p := range pkts {
		if p.Src != w.Port || p.Dst != c.Port || p.Written.IsZero() || p.Written.Before(first) || p.Written.After(last) {
			continue
		}
		if pf.IsZero() {
			pf = p.Written
		} else {
			bytes += int64(p.Size)
		}
		pl = p.Written
	}
	if !pl.After(pf) {
		return 0, good, errors.New("no packets recorded during the transfer")
	}
	ip = float64(bytes) * 8 / pl.Sub(pf).Seconds()
	return ip, good, nil
}

// forceReadBuffer sets a socket's receive buffer past net.core.rmem_max
// (SO_RCVBUFFORCE; the lab runs as root).
func forceReadBuffer(c any, n int) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("lab: not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	return serr
}
