package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/hop-http/hop/resolve"
)

// Histogram geometry: microseconds, up to one hour, three significant digits.
const (
	histMax     = int64(time.Hour / time.Microsecond)
	histDigits  = 3
	sampleBatch = 256
)

// engine is the state shared by the workers of one run.
type engine struct {
	cfg     Config
	t       target
	addr    string // resolved host:port to dial
	tlsConf *tls.Config

	req    []byte // one serialized request
	batch  []byte // Pipeline copies of req
	method []byte

	base         time.Time // clock origin; e.now() is nanoseconds since base
	measureStart int64     // end of the warm-up
	slotNs       float64   // with Rate: nanoseconds between two scheduled requests
	limited      bool      // Requests > 0
	budget       atomic.Int64

	ctx     context.Context // canceled by stop: ends dials and handshakes
	cancel  context.CancelFunc
	stopped atomic.Bool
	done    chan struct{} // closed by stop
	stopAt  int64         // e.now() when stop was first called
	stopMu  sync.Mutex

	opened  atomic.Int64
	hists   chan *histPair
	workers []*worker
}

// histPair is one shard of the shared histograms.
type histPair struct {
	lat, ulat *hdrhistogram.Histogram
}

func newHistPair() *histPair {
	return &histPair{
		lat:  hdrhistogram.New(1, histMax, histDigits),
		ulat: hdrhistogram.New(1, histMax, histDigits),
	}
}

func (e *engine) now() int64 { return int64(time.Since(e.base)) }

// at converts an engine time to a wall-clock deadline.
func (e *engine) at(ns int64) time.Time { return e.base.Add(time.Duration(ns)) }

func (e *engine) measured(ns int64) bool { return ns >= e.measureStart }

// stop ends the run: no worker sends again, blocked reads and writes return at once.
func (e *engine) stop() {
	e.stopMu.Lock()
	defer e.stopMu.Unlock()
	if e.stopped.Load() {
		return
	}
	e.stopAt = e.now()
	e.stopped.Store(true)
	close(e.done)
	e.cancel()
	for _, w := range e.workers {
		w.wake()
	}
}

// claim takes up to k requests from the budget and returns how many it got. During
// the warm-up nothing is taken.
func (e *engine) claim(k int, now int64) int {
	if !e.limited || !e.measured(now) {
		return k
	}
	// Never drive the budget below zero: a claim that is given back (connect) must
	// restore exactly what it took.
	for {
		cur := e.budget.Load()
		if cur <= 0 {
			return 0
		}
		take := min(int64(k), cur)
		if e.budget.CompareAndSwap(cur, cur-take) {
			return int(take)
		}
	}
}

func (e *engine) budgetLeft() bool { return !e.limited || e.budget.Load() > 0 }

func (e *engine) dial() (net.Conn, error) {
	// No TCP keep-alive probes: they are for idle connections, and setting them up
	// costs four system calls per connection.
	d := net.Dialer{Timeout: e.cfg.Timeout, KeepAlive: -1}
	c, err := d.DialContext(e.ctx, "tcp", e.addr)
	if err != nil {
		return nil, err
	}
	if e.tlsConf != nil {
		tc := tls.Client(c, e.tlsConf)
		ctx, cancel := context.WithTimeout(e.ctx, e.cfg.Timeout)
		err = tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	return c, nil
}

// resolveAddr picks the address to dial: an IP literal as is, otherwise the first
// resolved address that accepts a connection (the first one when none does, so that
// the run reports the connect errors).
func resolveAddr(ctx context.Context, t *target, cfg *Config) (string, error) {
	if ip, err := netip.ParseAddr(t.host); err == nil {
		return ip.String(), nil
	}
	r := &resolve.Resolver{}
	res, err := r.Lookup(ctx, t.host)
	if err != nil {
		return "", fmt.Errorf("loadgen: %w", err)
	}
	addrs := resolve.Interleave(res.Addrs)
	if len(addrs) == 1 {
		return addrs[0].String(), nil
	}
	probe := cfg.Timeout
	if probe > 3*time.Second {
		probe = 3 * time.Second
	}
	for _, a := range addrs {
		d := net.Dialer{Timeout: probe}
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), t.port))
		if err == nil {
			c.Close()
			return a.String(), nil
		}
	}
	return addrs[0].String(), nil
}

// Run performs one load run as cfg describes and returns its measurements. It
// returns an error only when the configuration is invalid or the host cannot be
// resolved; failures under load are counted in Result.Errors. Canceling ctx ends the
// run early with the measurements so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(cfg.URL)
	if err != nil {
		return nil, err
	}
	host, err := resolveAddr(ctx, &t, &cfg)
	if err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, t: t, addr: net.JoinHostPort(host, t.port)}
	if t.scheme == "https" {
		if cfg.TLSConfig != nil {
			e.tlsConf = cfg.TLSConfig.Clone()
		} else {
			e.tlsConf = &tls.Config{}
		}
		if e.tlsConf.ServerName == "" {
			e.tlsConf.ServerName = t.host
		}
		if len(e.tlsConf.NextProtos) == 0 {
			e.tlsConf.NextProtos = []string{"http/1.1"}
		}
	}
	e.req = buildRequest(&cfg, &t)
	e.method = []byte(cfg.Method)
	for i := 0; i < cfg.Pipeline; i++ {
		e.batch = append(e.batch, e.req...)
	}
	if cfg.Rate > 0 {
		e.slotNs = 1e9 / cfg.Rate
	}
	if cfg.Requests > 0 {
		e.limited = true
		e.budget.Store(cfg.Requests)
	}
	shards := runtime.GOMAXPROCS(0)
	e.hists = make(chan *histPair, shards)
	for i := 0; i < shards; i++ {
		e.hists <- newHistPair()
	}
	e.done = make(chan struct{})
	e.ctx, e.cancel = context.WithCancel(context.Background())
	defer e.cancel()

	e.workers = make([]*worker, cfg.Connections)
	for i := range e.workers {
		e.workers[i] = newWorker(e, i)
	}
	e.base = time.Now()
	e.measureStart = int64(cfg.Warmup)
	var wg sync.WaitGroup
	for _, w := range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run()
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	e.supervise(ctx, finished)
	<-finished
	end := e.now()
	if e.stopped.Load() {
		end = e.stopAt
	}
	return e.result(end), nil
}

// supervise waits for the run to end (all workers done, the duration over, or ctx
// canceled), calling Progress on the way.
func (e *engine) supervise(ctx context.Context, finished <-chan struct{}) {
	var endC <-chan time.Time
	if e.cfg.Duration > 0 {
		end := time.NewTimer(e.cfg.Warmup + e.cfg.Duration)
		defer end.Stop()
		endC = end.C
	}
	var tickC <-chan time.Time
	if e.cfg.Progress != nil {
		tick := time.NewTicker(e.cfg.ProgressInterval)
		defer tick.Stop()
		tickC = tick.C
	}
	var lastReqs int64
	lastT := e.now()
	for {
		select {
		case <-finished:
			return
		case <-ctx.Done():
			e.stop()
			return
		case <-endC:
			e.stop()
			return
		case <-tickC:
			now := e.now()
			var reqs, errs int64
			for _, w := range e.workers {
				reqs += w.live.requests.Load()
				errs += w.live.errors.Load()
			}
			p := Progress{
				Label:    e.cfg.Mode(),
				Elapsed:  time.Duration(now),
				Warmup:   !e.measured(now),
				Requests: reqs,
				Errors:   errs,
			}
			if dt := now - lastT; dt > 0 {
				p.RequestsPerSec = float64(reqs-lastReqs) / (float64(dt) / 1e9)
			}
			lastReqs, lastT = reqs, now
			e.cfg.Progress(p)
		}
	}
}

// result merges the workers' counts and histograms.
func (e *engine) result(end int64) *Result {
	r := &Result{
		Config:            e.cfg,
		Connections:       e.cfg.Connections,
		Pipeline:          e.cfg.Pipeline,
		ConnectionsOpened: e.opened.Load(),
		Latency:           hdrhistogram.New(1, histMax, histDigits),
		Uncorrected:       hdrhistogram.New(1, histMax, histDigits),
		GOMAXPROCS:        runtime.GOMAXPROCS(0),
	}
	var first [numKinds]*worker // the worker with the earliest error of each kind
	for _, w := range e.workers {
		w.flush()
		r.Requests += w.live.requests.Load()
		r.Bytes += w.bytes
		r.Errors.add(&w.errs)
		for i := range r.StatusClasses {
			r.StatusClasses[i] += w.classes[i]
		}
		for k, err := range w.firstErr {
			if err != nil && (first[k] == nil || w.firstAt[k] < first[k].firstAt[k]) {
				first[k] = w
			}
		}
	}
	for k, w := range first {
		if w != nil {
			if r.FirstErrors == nil {
				r.FirstErrors = make(map[string]error)
			}
			r.FirstErrors[kindNames[k]] = w.firstErr[k]
		}
	}
	for i := 0; i < cap(e.hists); i++ {
		hp := <-e.hists
		r.Latency.Merge(hp.lat)
		r.Uncorrected.Merge(hp.ulat)
	}
	if e.cfg.Rate <= 0 {
		r.Uncorrected = r.Latency
	}
	d := end - e.measureStart
	if d < 1 {
		d = 1
	}
	r.Duration = time.Duration(d)
	return r
}
