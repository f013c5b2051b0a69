// Package idle measures what idle keep-alive connections cost a server: it reads the
// server process's resident set size (VmRSS), opens many keep-alive connections that
// each carry one request, lets them sit, reads the RSS again and divides the growth by
// the number of connections; then it checks that every connection still answers.
package idle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/benchmarks/internal/plainclient"
)

// RSS returns the resident set size of process pid in KiB (VmRSS in /proc/PID/status).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		v, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("idle: unexpected VmRSS line %q", line)
		}
		return strconv.ParseInt(string(f[0]), 10, 64)
	}
	return 0, fmt.Errorf("idle: no VmRSS in /proc/%d/status", pid)
}

// Options say where and how to open connections.
type Options struct {
	// Addr is the server's loopback address, HOST:PORT.
	Addr string
	// Sources are the local addresses connections are spread over, round robin (each
	// source IP has its own ephemeral port range). Empty lets the kernel choose.
	Sources []net.IP
	// Workers bounds how many connections are dialled or exercised at once (default 64).
	Workers int
	// Timeout bounds each dial and each request/response exchange (default 10s).
	Timeout time.Duration
}

func (o *Options) workers() int {
	if o.Workers <= 0 {
		return 64
	}
	return o.Workers
}

func (o *Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 10 * time.Second
	}
	return o.Timeout
}

// Conns is a set of open keep-alive connections to one server.
type Conns struct {
	opts  Options
	conns []net.Conn
	req   []byte
}

// Open dials n connections and sends one request on each, checking every response.
// It fails, closing what it opened, when any connection fails.
func Open(ctx context.Context, opts Options, n int) (*Conns, error) {
	cs := &Conns{opts: opts, conns: make([]net.Conn, n), req: plainclient.Request("localhost", false)}
	err := cs.each(ctx, func(i int, rd *plainclient.Reader) error {
		d := net.Dialer{Timeout: opts.timeout()}
		if len(opts.Sources) > 0 {
			d.LocalAddr = &net.TCPAddr{IP: opts.Sources[i%len(opts.Sources)]}
		}
		nc, err := d.DialContext(ctx, "tcp", opts.Addr)
		if err != nil {
			return err
		}
		cs.conns[i] = nc
		return cs.exchange(nc, rd)
	})
	if err != nil {
		cs.Close()
		return nil, err
	}
	return cs, nil
}

// RoundTrip sends one more request on every connection and returns how many answered
// correctly, with the first failure.
func (cs *Conns) RoundTrip(ctx context.Context) (ok int, err error) {
	var good atomic.Int64
	var mu sync.Mutex
	var first error
	cs.each(ctx, func(i int, rd *plainclient.Reader) error {
		if err := cs.exchange(cs.conns[i], rd); err != nil {
			mu.Lock()
			if first == nil {
				first = fmt.Errorf("connection %d: %w", i, err)
			}
			mu.Unlock()
			return nil // keep checking the others
		}
		good.Add(1)
		return nil
	})
	return int(good.Load()), first
}

// Close closes every connection.
func (cs *Conns) Close() {
	for _, nc := range cs.conns {
		if nc != nil {
			nc.Close()
		}
	}
}

// exchange writes one request on nc and reads and checks the response.
func (cs *Conns) exchange(nc net.Conn, rd *plainclient.Reader) error {
	nc.SetDeadline(time.Now().Add(cs.opts.timeout()))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(cs.req); err != nil {
		return err
	}
	rd.Reset(nc)
	var resp plainclient.Response
	if err := rd.Read(&resp); err != nil {
		return err
	}
	if err := plainclient.Check(&resp, true); err != nil {
		return err
	}
	if rd.Buffered() != 0 {
		return errors.New("unexpected bytes after the response")
	}
	return nil
}

// each runs fn for every connection index on a bounded number of workers, each with
// its own response buffer; it stops at the first error fn returns, or when ctx ends.
func (cs *Conns) each(ctx context.Context, fn func(i int, rd *plainclient.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for w := 0; w < min(cs.opts.workers(), len(cs.conns)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := plainclient.NewReader(nil, 4096)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(cs.conns) {
					return
				}
				if err := fn(i, rd); err != nil {
					once.Do(func() { first = fmt.Errorf("connection %d: %w", i, err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// Warm exercises the server before the baseline is taken: conns connections carry
// requests each, then close.
func Warm(ctx context.Context, opts Options, conns, requests int) error {
	cs, err := Open(ctx, opts, conns)
	if err != nil {
		return err
	}
	defer cs.Close()
	for r := 1; r < requests; r++ {
		ok, err := cs.RoundTrip(ctx)
		if err != nil {
			return err
		}
		if ok != conns {
			return fmt.Errorf("idle: warm-up: %d of %d answered", ok, conns)
		}
	}
	return nil
}

// Result is one measurement.
type Result struct {
	N           int           // connections held open
	RSSBefore   int64         // KiB, after the warm-up
	RSSAfter    int64         // KiB, with N idle connections
	OpenTime    time.Duration // time to open the N connections
	SecondOK    int           // connections that answered the second request
	SecondError error         // the first failure of the second round, if any
}

// PerConnKB returns the RSS growth per connection in KiB.
func (r Result) PerConnKB() float64 {
	if r.N == 0 {
		return 0
	}
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.N)
}

// Measure runs the whole measurement against the server process pid listening on
// opts.Addr: warm-up, baseline RSS, N connections with one request each, settle, RSS
// again, a second request on every connection. The connections are closed before it
// returns.
func Measure(ctx context.Context, pid int, opts Options, n int, settle time.Duration) (Result, error) {
	res := Result{N: n}
	if err := Warm(ctx, opts, 16, 50); err != nil {
		return res, fmt.Errorf("warm-up: %w", err)
	}
	if err := sleep(ctx, settle); err != nil {
		return res, err
	}
	var err error
	if res.RSSBefore, err = RSS(pid); err != nil {
		return res, err
	}
	t0 := time.Now()
	cs, err := Open(ctx, opts, n)
	if err != nil {
		return res, fmt.Errorf("opening %d connections: %w", n, err)
	}
	defer cs.Close()
	res.OpenTime = time.Since(t0)
	if err := sleep(ctx, settle); err != nil {
		return res, err
	}
	if res.RSSAfter, err = RSS(pid); err != nil {
		return res, err
	}
	res.SecondOK, res.SecondError = cs.RoundTrip(ctx)
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
