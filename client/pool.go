package client

import (
	"context"
	"crypto/tls"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/wire"
)

// originKey identifies a pool: connections are shared only between requests with the
// same scheme, host, port and proxy.
type originKey struct {
	scheme, host, port string
	proxy              string // proxy URL, "" for direct connections
}

// hostPool holds the connections to one origin.
type hostPool struct {
	cl        *Client
	key       originKey
	origin    string // "scheme://host:port", for traces and errors
	proxyURL  *URL   // nil when direct
	proxyAuth string // Proxy-Authorization value from the proxy URL, "" when none
	absolute  bool   // requests use the absolute form (plain http through a proxy)
	// authOn is set once the proxy asked for credentials (407): from then on
	// proxyAuth is sent with every request and CONNECT through that proxy (it is
	// shared by the pools of every origin reached through it).
	authOn *atomic.Bool

	tlsOnce sync.Once
	tlsConf *tls.Config

	mu      sync.Mutex
	idle    []*conn // LIFO: idle[len-1] was used last
	open    int     // connections open or being dialed
	dialing int
	active  int // connections lent to exchanges
	waiters []*waiter
	stats   poolCounters
	lastUse time.Time
	gone    bool // removed from the Client's map: connections are not kept
}

// poolCounters are the cumulative counters of a pool.
type poolCounters struct {
	newConns, reused, closed, switched, dialErrors, waitTimeouts uint64
}

// waiter is a request waiting for a connection at the per-host limit.
type waiter struct {
	ch chan waitResult // buffered, capacity 1
}

// waitResult hands a waiter an idle connection, the right to dial one (the slot is
// already counted in open), or an error (the Client was closed).
type waitResult struct {
	c    *conn
	dial bool
	err  error
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan waitResult, 1)} }}

// acquire returns a connection for one exchange: the most recently used idle one that
// passes the liveness check, else a new one if the per-host limit allows, else the
// next one released, waiting in a bounded queue for at most PoolWaitTimeout. With
// fresh set it never reuses an idle connection.
//
// The set-up of a new connection is reported to tr and recorded in tm (either may be
// nil).
func (p *hostPool) acquire(ctx context.Context, deadline time.Time, fresh bool, tr *Trace, tm *Timings) (c *conn, reused bool, idle time.Duration, err error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c, w, err := p.take(fresh)
		switch {
		case err != nil:
			return nil, false, 0, err
		case c != nil:
		case w == nil: // the right to dial
			c, err = p.dial(ctx, deadline, tr, tm)
			return c, false, 0, err
		default:
			r, err := p.await(ctx, deadline, tr, w, &timer)
			switch {
			case err != nil:
				return nil, false, 0, err
			case r.dial:
				c, err = p.dial(ctx, deadline, tr, tm)
				return c, false, 0, err
			case fresh:
				// A new connection is wanted: close this one and dial in its slot.
				r.c.close()
				p.mu.Lock()
				p.active--
				p.dialing++
				p.stats.closed++
				p.stats.reused--
				p.mu.Unlock()
				c, err = p.dial(ctx, deadline, tr, tm)
				return c, false, 0, err
			}
			c = r.c // counted as reused by put
		}
		now := time.Now()
		if c.expired(now) || !c.usable(now) {
			p.discard(c)
			continue
		}
		return c, true, now.Sub(c.lastUsed), nil
	}
}

// take does what can be done at once under the pool's lock: it returns an idle
// connection (counted as reused and active), or neither a connection nor a waiter
// (the right to dial: the slot is counted in open and dialing), or a waiter queued
// for the next connection released.
func (p *hostPool) take(fresh bool) (*conn, *waiter, error) {
	cl := p.cl
	max := cl.maxConnsPerHost()
	p.mu.Lock()
	defer p.mu.Unlock()
	if cl.closed.Load() {
		return nil, nil, ErrClientClosed
	}
	if !fresh && len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		p.active++
		p.stats.reused++ // taken back by discard if the connection turns out dead
		return c, nil, nil
	}
	if p.open < max || fresh && len(p.idle) > 0 {
		if p.open >= max {
			// fresh at the limit: give up the oldest idle connection for a new one.
			old := p.idle[0]
			copy(p.idle, p.idle[1:])
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			p.open--
			p.stats.closed++
			old.close()
		}
		p.open++
		p.dialing++
		return nil, nil, nil
	}
	if len(p.waiters) >= cl.maxWaiters() {
		return nil, nil, ErrPoolFull
	}
	w := waiterPool.Get().(*waiter)
	p.waiters = append(p.waiters, w)
	return nil, w, nil
}

// await waits for what the queue hands w: a connection, the right to dial, or an
// error; for at most PoolWaitTimeout, the request's deadline and its context. *timer
// is reused across waits.
func (p *hostPool) await(ctx context.Context, deadline time.Time, tr *Trace, w *waiter, timer **time.Timer) (waitResult, error) {
	if tr != nil && tr.PoolWait != nil {
		tr.PoolWait()
	}
	wait := p.cl.poolWaitTimeout() // 0: no limit of its own
	if !deadline.IsZero() {
		if d := time.Until(deadline); wait == 0 || d < wait {
			wait = d
			if wait <= 0 {
				wait = 1 // expired: the timer fires at once
			}
		}
	}
	var expired <-chan time.Time
	if wait > 0 {
		if *timer == nil {
			*timer = time.NewTimer(wait)
		} else {
			(*timer).Reset(wait)
		}
		expired = (*timer).C
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case r := <-w.ch:
		waiterPool.Put(w)
		return r, r.err
	case <-expired:
		p.abandon(w)
		p.mu.Lock()
		p.stats.waitTimeouts++
		p.mu.Unlock()
		return waitResult{}, ErrPoolTimeout
	case <-done:
		p.abandon(w)
		return waitResult{}, ctx.Err()
	}
}

// abandon removes a waiter that gave up. If a connection or a dial slot was handed to
// it in the meantime, it is passed on.
func (p *hostPool) abandon(w *waiter) {
	p.mu.Lock()
	for i, x := range p.waiters {
		if x == w {
			copy(p.waiters[i:], p.waiters[i+1:])
			p.waiters[len(p.waiters)-1] = nil
			p.waiters = p.waiters[:len(p.waiters)-1]
			p.mu.Unlock()
			waiterPool.Put(w)
			return
		}
	}
	p.mu.Unlock()
	r := <-w.ch // it was handed something before we could leave the queue
	waiterPool.Put(w)
	if r.err != nil {
		return
	}
	p.mu.Lock()
	if r.dial {
		p.open--
		p.dialing--
		p.handOff()
		p.mu.Unlock()
		return
	}
	p.stats.reused-- // put counted the hand-over, which did not happen
	p.mu.Unlock()
	p.put(r.c)
}

// put returns a healthy connection: to the first waiter (counted as reused), else to
// the top of the idle stack.
func (p *hostPool) put(c *conn) {
	now := time.Now()
	c.lastUsed = now
	p.mu.Lock()
	p.lastUse = now
	if p.cl.closed.Load() || p.gone {
		p.mu.Unlock()
		p.drop(c)
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		copy(p.waiters, p.waiters[1:])
		p.waiters[len(p.waiters)-1] = nil
		p.waiters = p.waiters[:len(p.waiters)-1]
		p.stats.reused++ // taken back if the waiter cannot use it
		p.mu.Unlock()
		w.ch <- waitResult{c: c}
		return
	}
	maxIdle := p.cl.maxIdlePerHost()
	if maxIdle == 0 {
		p.mu.Unlock()
		p.drop(c)
		return
	}
	p.active--
	var evict *conn
	if len(p.idle) >= maxIdle {
		evict = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle = p.idle[:len(p.idle)-1]
		p.open--
		p.stats.closed++
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	if evict != nil {
		evict.close()
	}
	p.cl.startJanitor()
}

// drop closes a connection that was lent out and frees its slot, which goes to the
// first waiter as the right to dial.
func (p *hostPool) drop(c *conn) {
	c.close()
	p.mu.Lock()
	p.freeSlot()
	p.mu.Unlock()
}

// dropGracefully is drop for a connection whose exchange ended cleanly: its socket
// is closed only after the server's end of the stream (conn.closeGracefully).
func (p *hostPool) dropGracefully(c *conn) {
	c.closeGracefully()
	p.mu.Lock()
	p.freeSlot()
	p.mu.Unlock()
}

// discard is drop for a connection that was counted as reused when it was taken from
// the pool but turned out expired or closed by the server.
func (p *hostPool) discard(c *conn) {
	c.close()
	p.mu.Lock()
	p.stats.reused--
	p.freeSlot()
	p.mu.Unlock()
}

// freeSlot accounts for a closed connection that was lent out. p.mu is held.
func (p *hostPool) freeSlot() {
	p.active--
	p.open--
	p.stats.closed++
	p.handOff()
}

// handOff gives a free slot to the first waiter. p.mu is held.
func (p *hostPool) handOff() {
	if len(p.waiters) == 0 || p.open >= p.cl.maxConnsPerHost() {
		return
	}
	w := p.waiters[0]
	copy(p.waiters, p.waiters[1:])
	p.waiters[len(p.waiters)-1] = nil
	p.waiters = p.waiters[:len(p.waiters)-1]
	p.open++
	p.dialing++
	w.ch <- waitResult{dial: true}
}

// detach lets go of a connection handed over to the caller (it switched protocols):
// its slot is freed without closing it.
func (p *hostPool) detach(c *conn) {
	p.mu.Lock()
	p.active--
	p.open--
	p.stats.switched++
	p.handOff()
	p.mu.Unlock()
}

// failWaiters hands err to every request waiting for a connection.
func (p *hostPool) failWaiters(err error) {
	p.mu.Lock()
	ws := p.waiters
	p.waiters = nil
	p.mu.Unlock()
	for _, w := range ws {
		w.ch <- waitResult{err: err}
	}
}

// auth returns the Proxy-Authorization value to send: the proxy URL's credentials
// once the proxy asked for them, else "".
func (p *hostPool) auth() string {
	if p.authOn != nil && p.authOn.Load() {
		return p.proxyAuth
	}
	return ""
}

// retryWithAuth decides, after a 407 from the proxy, whether to send the request again
// with the proxy URL's credentials: only when there are some, they were not sent
// (sent is what was), the caller set no Proxy-Authorization of its own, and the proxy
// accepts Basic. It turns the credentials on for the pool.
func (p *hostPool) retryWithAuth(sent string, req *Request, challenge *wire.Header) bool {
	if p.proxyURL == nil || p.proxyAuth == "" || sent != "" || req.Fields().Has("Proxy-Authorization") {
		return false
	}
	ok := false
	challenge.Values("Proxy-Authenticate", func(v []byte) { ok = ok || offersBasic(v) })
	if ok {
		p.authOn.Store(true)
	}
	return ok
}

// offersBasic reports whether a Proxy-Authenticate value offers the Basic scheme
// (RFC 9110 §11.6.2: a list of challenges, each an auth-scheme and parameters).
func offersBasic(v []byte) bool {
	const scheme = "basic"
	for i := 0; i+len(scheme) <= len(v); i++ {
		if (i == 0 || v[i-1] == ' ' || v[i-1] == ',' || v[i-1] == '\t') &&
			wire.EqualFold(v[i:i+len(scheme)], scheme) &&
			(i+len(scheme) == len(v) || v[i+len(scheme)] == ' ' || v[i+len(scheme)] == ',') {
			return true
		}
	}
	return false
}

// dialFailed frees the slot of a failed dial.
func (p *hostPool) dialFailed() {
	p.mu.Lock()
	p.open--
	p.dialing--
	p.stats.dialErrors++
	p.handOff()
	p.mu.Unlock()
}

// dialed records a new connection lent to its exchange.
func (p *hostPool) dialed() {
	p.mu.Lock()
	p.dialing--
	p.active++
	p.stats.newConns++
	p.mu.Unlock()
}

// usable runs the liveness check, unless the connection was idle for less than
// LivenessCheckMinIdle.
func (c *conn) usable(now time.Time) bool {
	if m := c.cl.livenessMinIdle(); m > 0 && now.Sub(c.lastUsed) < m {
		return true
	}
	return c.alive()
}

// expired reports whether an idle connection is past its idle time, age or request
// budget.
func (c *conn) expired(now time.Time) bool {
	if now.Sub(c.lastUsed) >= c.idleTTL {
		return true
	}
	cl := c.cl
	if cl.MaxConnAge > 0 && now.Sub(c.created) >= cl.MaxConnAge {
		return true
	}
	if c.maxReq > 0 && c.requests >= c.maxReq {
		return true
	}
	return cl.MaxRequestsPerConn > 0 && c.requests >= cl.MaxRequestsPerConn
}

// sweep closes idle connections that expired or that the server closed. It reports
// whether the pool still holds connections or waiters.
func (p *hostPool) sweep(now time.Time, all bool) bool {
	var dead []*conn
	p.mu.Lock()
	j := 0
	for _, c := range p.idle {
		if all || c.expired(now) || c.peekState() != peekAlive {
			dead = append(dead, c)
			continue
		}
		p.idle[j] = c
		j++
	}
	clear(p.idle[j:])
	p.idle = p.idle[:j]
	p.open -= len(dead)
	p.stats.closed += uint64(len(dead))
	for range dead {
		p.handOff()
	}
	busy := p.open > 0 || len(p.waiters) > 0
	p.mu.Unlock()
	for _, c := range dead {
		c.close()
	}
	return busy
}

// janitor is the Client's background sweeper of idle connections.
type janitor struct {
	sync.Mutex
	// running is written with the mutex held and read without it by startJanitor's
	// fast path, which every pool put takes.
	running atomic.Bool
	stop    chan struct{}
}

// startJanitor starts the sweeper goroutine if it is not running. It sweeps idle
// connections (expired, or closed by the server) and forgets empty pools, and stops
// by itself when no connection is left.
func (cl *Client) startJanitor() {
	if cl.janitor.running.Load() {
		return
	}
	cl.janitor.Lock()
	defer cl.janitor.Unlock()
	if cl.janitor.running.Load() || cl.closed.Load() {
		return
	}
	cl.janitor.running.Store(true)
	stop := make(chan struct{})
	cl.janitor.stop = stop
	interval := cl.idleTimeout() / 4
	if interval > time.Second {
		interval = time.Second
	}
	if interval < 10*time.Millisecond {
		interval = 10 * time.Millisecond
	}
	go cl.sweepLoop(stop, interval)
}

func (cl *Client) sweepLoop(stop chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			busy := false
			for _, p := range cl.allPools() {
				if p.sweep(now, false) {
					busy = true
				} else {
					cl.forget(p, now)
				}
			}
			if !busy {
				cl.janitor.Lock()
				if cl.janitor.stop == stop {
					cl.janitor.running.Store(false)
				}
				cl.janitor.Unlock()
				// A connection put back since the sweep found the janitor still
				// running and left it alone: start a new one for it.
				if cl.busy() {
					cl.startJanitor()
				}
				return
			}
		}
	}
}

// busy reports whether any pool holds connections or waiters.
func (cl *Client) busy() bool {
	for _, p := range cl.allPools() {
		p.mu.Lock()
		b := p.open > 0 || len(p.waiters) > 0
		p.mu.Unlock()
		if b {
			return true
		}
	}
	return false
}

// forget removes an empty pool that has not been used for a while.
func (cl *Client) forget(p *hostPool, now time.Time) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == 0 && len(p.waiters) == 0 && now.Sub(p.lastUse) > cl.idleTimeout() && cl.pools[p.key] == p {
		// A request that already holds p still works; its connection is closed
		// after use instead of idling in a pool nobody sweeps.
		p.gone = true
		delete(cl.pools, p.key)
	}
}

// stopJanitor stops the sweeper (Close).
func (cl *Client) stopJanitor() {
	cl.janitor.Lock()
	if cl.janitor.running.Load() {
		close(cl.janitor.stop)
		cl.janitor.running.Store(false)
	}
	cl.janitor.Unlock()
}

// OriginStats describes the pool of one origin.
type OriginStats struct {
	// Origin is "scheme://host:port", followed by " via PROXY" when proxied.
	Origin string
	Stats
}

// Stats are pool counters: gauges (Active, Idle, Waiting, Dialing, Open) and
// cumulative counts since the Client was created.
type Stats struct {
	Active  int // connections carrying an exchange
	Idle    int // connections waiting in the pool
	Waiting int // requests waiting for a connection at the per-host limit
	Dialing int // connections being set up
	Open    int // connections open or being set up

	NewConns     uint64 // connections set up
	Reused       uint64 // exchanges that reused an idle connection
	Closed       uint64 // connections closed
	Switched     uint64 // connections handed to the caller (101, CONNECT 2xx)
	DialErrors   uint64 // failed connection set-ups
	WaitTimeouts uint64 // requests that gave up waiting for a connection
}

func (s *Stats) add(o Stats) {
	s.Active += o.Active
	s.Idle += o.Idle
	s.Waiting += o.Waiting
	s.Dialing += o.Dialing
	s.Open += o.Open
	s.NewConns += o.NewConns
	s.Reused += o.Reused
	s.Closed += o.Closed
	s.Switched += o.Switched
	s.DialErrors += o.DialErrors
	s.WaitTimeouts += o.WaitTimeouts
}

func (p *hostPool) snapshot() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Active: p.active, Idle: len(p.idle), Waiting: len(p.waiters), Dialing: p.dialing,
		Open: p.open, NewConns: p.stats.newConns, Reused: p.stats.reused,
		Closed: p.stats.closed, Switched: p.stats.switched, DialErrors: p.stats.dialErrors,
		WaitTimeouts: p.stats.waitTimeouts,
	}
}
