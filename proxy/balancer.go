package proxy

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/client"
)

// Policy chooses among the healthy upstreams of a [Balancer].
type Policy uint8

// Balancing policies.
const (
	// RoundRobin takes the healthy upstreams in turn.
	RoundRobin Policy = iota
	// LeastConn takes the healthy upstream with the fewest requests in flight (a
	// request counts until its response body ends); ties go round-robin.
	LeastConn
)

// ParsePolicy parses "round-robin" or "least-conn".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "round-robin", "rr", "":
		return RoundRobin, nil
	case "least-conn", "least-connections", "lc":
		return LeastConn, nil
	}
	return 0, errors.New("unknown balancing policy " + s + " (want round-robin or least-conn)")
}

// String returns the policy's flag spelling.
func (p Policy) String() string {
	if p == LeastConn {
		return "least-conn"
	}
	return "round-robin"
}

// Defaults of the Balancer's passive health checking.
const (
	DefaultMaxFails   = 3
	DefaultEjectFirst = time.Second
	DefaultEjectMax   = 30 * time.Second
)

// Balancer spreads requests over upstream origins and keeps passive health: an
// upstream that fails MaxFails times in a row (connection refused or reset, timeouts,
// malformed responses; an HTTP error status is not a failure) is ejected for
// EjectFirst. When that time is over, the next request that picks it is its probe,
// the only request it gets until the probe ends: success brings it back, failure
// ejects it again for twice as long, up to EjectMax. When every upstream is ejected,
// the one whose ejection ends first is tried anyway rather than failing without an
// attempt.
type Balancer struct {
	Policy     Policy
	MaxFails   int           // 0 means DefaultMaxFails
	EjectFirst time.Duration // 0 means DefaultEjectFirst
	EjectMax   time.Duration // 0 means DefaultEjectMax

	backends []*backend
	next     atomic.Uint64
	// now is the clock (tests).
	now func() time.Time
}

// backend is one upstream origin.
type backend struct {
	name     string // as configured
	prefix   string // scheme://authority plus the path prefix, without a trailing slash
	inflight atomic.Int64
	healthy  atomic.Bool // fast path: no failure recorded since the last success

	mu       sync.Mutex
	fails    int
	ejected  bool
	until    time.Time // end of the ejection
	backoff  time.Duration
	probing  bool
	ejection uint64 // times ejected
}

// NewBalancer returns a balancer over the upstream URLs (http or https, with an
// optional path prefix that is put in front of every request path).
func NewBalancer(policy Policy, upstreams ...string) (*Balancer, error) {
	if len(upstreams) == 0 {
		return nil, errors.New("hop/proxy: no upstream")
	}
	b := &Balancer{Policy: policy}
	for _, s := range upstreams {
		u, err := client.ParseURL(s)
		if err != nil {
			return nil, err
		}
		if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != "" {
			return nil, errors.New("hop/proxy: upstream " + s + ": want scheme://host[:port][/prefix] without userinfo, query or fragment")
		}
		prefix := u.Scheme + "://" + u.Authority() + strings.TrimSuffix(u.Path, "/")
		be := &backend{name: strings.TrimSuffix(s, "/"), prefix: prefix}
		be.healthy.Store(true)
		b.backends = append(b.backends, be)
	}
	return b, nil
}

// Len returns the number of upstreams.
func (b *Balancer) Len() int { return len(b.backends) }

// UpstreamState is a snapshot of one upstream for metrics and status pages.
type UpstreamState struct {
	Name     string
	InFlight int64
	Healthy  bool   // not ejected
	Fails    int    // consecutive failures
	Ejected  uint64 // times ejected
}

// States returns the state of every upstream, in configuration order.
func (b *Balancer) States() []UpstreamState {
	out := make([]UpstreamState, len(b.backends))
	for i, be := range b.backends {
		be.mu.Lock()
		out[i] = UpstreamState{Name: be.name, InFlight: be.inflight.Load(), Healthy: !be.ejected,
			Fails: be.fails, Ejected: be.ejection}
		be.mu.Unlock()
	}
	return out
}

func (b *Balancer) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

func (b *Balancer) maxFails() int {
	if b.MaxFails > 0 {
		return b.MaxFails
	}
	return DefaultMaxFails
}

// pick chooses an upstream, skipping those in skip (already tried for this request),
// and counts the request as in flight on it.
func (b *Balancer) pick(skip []*backend) *backend {
	n := len(b.backends)
	start := int(b.next.Add(1) % uint64(n))
	var best *backend
	var now time.Time
	for i := range n {
		be := b.backends[(start+i)%n]
		if contains(skip, be) {
			continue
		}
		if !be.healthy.Load() {
			if now.IsZero() {
				now = b.clock()
			}
			ok, probe := be.tryProbe(now)
			if !ok {
				continue
			}
			if probe {
				// A probe is taken at once: it must not be lost to a better candidate.
				best = be
				break
			}
			// Failed lately but not ejected: compared like the others below.
		}
		if b.Policy == RoundRobin {
			best = be
			break
		}
		if best == nil || be.inflight.Load() < best.inflight.Load() {
			best = be
		}
	}
	if best == nil {
		// Every upstream left is ejected (or probing): try the one whose ejection
		// ends first.
		for _, be := range b.backends {
			if contains(skip, be) {
				continue
			}
			if best == nil || be.ejectionEnd().Before(best.ejectionEnd()) {
				best = be
			}
		}
	}
	if best != nil {
		best.inflight.Add(1)
	}
	return best
}

func contains(list []*backend, be *backend) bool {
	for _, x := range list {
		if x == be {
			return true
		}
	}
	return false
}

func (be *backend) ejectionEnd() time.Time {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.until
}

// tryProbe reports whether an upstream with recorded failures may take a request now
// (ok): it is not ejected yet (fewer than MaxFails failures), or its ejection is over
// and no probe is running, when the request becomes the probe (probe).
func (be *backend) tryProbe(now time.Time) (ok, probe bool) {
	be.mu.Lock()
	defer be.mu.Unlock()
	if !be.ejected {
		return true, false
	}
	if be.probing || now.Before(be.until) {
		return false, false
	}
	be.probing = true
	return true, true
}

// unreported ends a request on be that reached no verdict on its health (the pool
// was full, the client's own body failed): a probe among them is over, so that the
// next request after the ejection probes again.
func (b *Balancer) unreported(be *backend) {
	if be.healthy.Load() {
		return
	}
	be.mu.Lock()
	be.probing = false
	be.mu.Unlock()
}

// report records the outcome of a request on be: ok, or a failure of the upstream.
func (b *Balancer) report(be *backend, ok bool) {
	if ok {
		if be.healthy.Load() {
			return
		}
		be.mu.Lock()
		be.fails, be.ejected, be.probing, be.backoff = 0, false, false, 0
		be.healthy.Store(true)
		be.mu.Unlock()
		return
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	be.healthy.Store(false)
	be.fails++
	now := b.clock()
	switch {
	case be.probing:
		be.probing = false
		be.backoff *= 2
		if max := durOr(b.EjectMax, DefaultEjectMax); be.backoff > max {
			be.backoff = max
		}
		be.until = now.Add(be.backoff)
		be.ejection++
	case !be.ejected && be.fails >= b.maxFails():
		be.ejected = true
		be.backoff = durOr(b.EjectFirst, DefaultEjectFirst)
		be.until = now.Add(be.backoff)
		be.ejection++
	}
}

func durOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
