package client

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hop-http/hop/resolve"
	"github.com/hop-http/hop/wire"
)

// Defaults for the Client's zero-valued fields. Throughout the package, a zero value
// means the documented default and a negative value means none: no limit, no
// timeout, or the feature off, as each field says.
const (
	// DefaultMaxConnsPerHost bounds the connections to one origin (open or being
	// set up). Requests beyond it wait in the origin's queue.
	DefaultMaxConnsPerHost = 512
	// DefaultMaxWaitersPerHost bounds the queue of requests waiting for a
	// connection to one origin; beyond it requests fail with ErrPoolFull.
	DefaultMaxWaitersPerHost = 4096
	// DefaultPoolWaitTimeout bounds the wait in that queue (ErrPoolTimeout).
	DefaultPoolWaitTimeout = 10 * time.Second
	// DefaultIdleTimeout is how long a connection may stay idle in the pool. A
	// server's Keep-Alive: timeout=N shortens it (see Client.IdleTimeout).
	DefaultIdleTimeout = 90 * time.Second
	// DefaultLivenessCheckMinIdle is how long a connection must have been idle before
	// its reuse is preceded by the liveness check (see Client.LivenessCheckMinIdle).
	DefaultLivenessCheckMinIdle = 100 * time.Millisecond
	// DefaultConnectTimeout bounds the set-up of a connection as a whole: name
	// resolution, TCP connection, the proxy's CONNECT tunnel and the TLS handshake.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultHappyEyeballsDelay is RFC 8305's recommended Connection Attempt Delay.
	DefaultHappyEyeballsDelay = 250 * time.Millisecond
	// DefaultReadTimeout bounds each wait for response bytes.
	DefaultReadTimeout = 60 * time.Second
	// DefaultWriteTimeout bounds each write of the request.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultExpectContinueTimeout is how long a request with Expect: 100-continue
	// waits for the server's answer before sending its body anyway.
	DefaultExpectContinueTimeout = time.Second
	// DefaultMaxResponseBody bounds a body read whole by Do.
	DefaultMaxResponseBody = 64 << 20
	// DefaultMaxDrain is how much of an unread body Response.Close reads and
	// discards to keep the connection; larger remainders close it.
	DefaultMaxDrain = 256 << 10
	// DefaultDrainTimeout bounds that draining.
	DefaultDrainTimeout = time.Second
	// DefaultMaxRetries is how many times a request is re-sent after its reused
	// connection failed before any response byte (idempotent requests only).
	DefaultMaxRetries = 2
	// DefaultReadBufferSize is the initial read buffer of a connection; it grows
	// for large heads up to Limits.MaxHead().
	DefaultReadBufferSize = 4 << 10
)

// Client sends HTTP/1.1 requests over pooled connections. The zero value is ready to
// use; fields must not change after the first request. A Client is safe for
// concurrent use. Call Close to release its connections.
//
// For every numeric field, 0 means the documented default and a negative value means
// none (no limit, no timeout, or off).
type Client struct {
	// MaxConnsPerHost bounds the connections per origin (scheme, host, port, proxy),
	// those still closing gracefully included (their sockets wait for the server's
	// end, at most a second); 0 means DefaultMaxConnsPerHost, negative means no limit.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost bounds the idle connections kept per origin; 0 means
	// MaxConnsPerHost, negative means none (every connection is closed after its
	// exchange). The least recently used one is closed first.
	MaxIdleConnsPerHost int
	// MaxWaitersPerHost bounds the requests waiting for a connection per origin; 0
	// means DefaultMaxWaitersPerHost, negative means no waiting (ErrPoolFull at once).
	MaxWaitersPerHost int
	// PoolWaitTimeout bounds the wait for a connection; 0 means
	// DefaultPoolWaitTimeout, negative means no limit but the request's own (Timeout,
	// context).
	PoolWaitTimeout time.Duration
	// IdleTimeout is how long an idle connection is kept; 0 means DefaultIdleTimeout,
	// negative means no limit. When the server announces Keep-Alive: timeout=N, the
	// connection is kept at most N seconds minus a margin (a quarter of N, at most one
	// second), so the client gives it up before the server closes it.
	IdleTimeout time.Duration
	// MaxConnAge closes connections older than this when they go idle; 0 or negative
	// means no limit.
	MaxConnAge time.Duration
	// MaxRequestsPerConn closes a connection after this many requests; 0 or negative
	// means no limit (a server's Keep-Alive: max=M also applies).
	MaxRequestsPerConn int
	// LivenessCheckMinIdle is how long a connection must have been idle before the
	// liveness check (one non-blocking peek system call) runs as it is reused; 0 means
	// DefaultLivenessCheckMinIdle (100 ms), negative means every reuse is checked. A
	// close that an unchecked connection then meets is handled like any other: the
	// request fails before any response byte, and is retried when that is allowed.
	LivenessCheckMinIdle time.Duration

	// ConnectTimeout bounds the set-up of a connection as a whole, under one deadline:
	// resolution, TCP connection (Happy Eyeballs), a proxy's CONNECT tunnel and the
	// TLS handshake. 0 means DefaultConnectTimeout, negative means no limit but the
	// request's own.
	ConnectTimeout time.Duration
	// HappyEyeballsDelay is the delay before the next address is tried while a
	// connection attempt is pending (RFC 8305 §5); 0 means 250 ms, negative turns the
	// race off (the next address is tried only when the previous one failed).
	HappyEyeballsDelay time.Duration
	// Timeout bounds each request as a whole (connection, request, response, body);
	// 0 or negative means none (each read and write is still bounded).
	Timeout time.Duration
	// ReadTimeout bounds each wait for response bytes; 0 means DefaultReadTimeout,
	// negative means none.
	ReadTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the final response head once the
	// request is written (a timeout *Error with Op "read response"); the body's reads
	// are then bounded by ReadTimeout alone, so a slow head and a long-idle stream can
	// have different limits (a proxy answers the first with 504 and streams the
	// second). 0 or negative: none, the default (ReadTimeout bounds each wait). Not
	// applied to pipelined requests.
	ResponseHeaderTimeout time.Duration
	// WriteTimeout bounds each write of the request; 0 means DefaultWriteTimeout,
	// negative means none.
	WriteTimeout time.Duration
	// ExpectContinueTimeout is how long a request with Expect: 100-continue waits for
	// the server's answer before sending its body; 0 means
	// DefaultExpectContinueTimeout, negative means no separate limit (the body waits
	// for 100 Continue or a final response, within ReadTimeout).
	ExpectContinueTimeout time.Duration

	// TLSConfig is the base TLS configuration (RootCAs, certificates, versions). SNI
	// is set to the URL's host and ALPN to http/1.1. nil means the system roots.
	TLSConfig *tls.Config
	// InsecureSkipVerify accepts any server certificate.
	InsecureSkipVerify bool
	// DisableTLSResumption turns off TLS session resumption (on by default, with an
	// LRU session cache of 256 entries shared by the Client's connections).
	DisableTLSResumption bool
	// DisableNoDelay turns Nagle's algorithm back on. TCP_NODELAY is on by default
	// because the client writes whole request heads (with small bodies) in one write.
	DisableNoDelay bool

	// Resolver resolves host names; nil means resolve.Default.
	Resolver *resolve.Resolver
	// Resolve overrides resolution for "host:port" keys (IPv6 hosts in brackets),
	// like curl's --resolve.
	Resolve map[string][]netip.Addr
	// Dial, if set, replaces net.Dialer for TCP connections (after resolution).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy returns the proxy for a URL, or nil for a direct connection; nil means
	// no proxy. See ProxyFromEnvironment and FixedProxy.
	Proxy func(u *URL) (*URL, error)

	// MaxRedirects is how many redirects Do and DoStream follow; 0 or negative means
	// none (the redirect response is returned).
	MaxRedirects int
	// MaxRetries is how many times a failed idempotent request is re-sent (only when
	// its reused connection failed before any response byte); 0 means
	// DefaultMaxRetries, negative means never.
	MaxRetries int
	// MaxResponseBody bounds the body Do reads; 0 means DefaultMaxResponseBody,
	// negative means no limit.
	MaxResponseBody int64
	// MaxDrain bounds how much of an abandoned body is read to keep its connection;
	// 0 means DefaultMaxDrain, negative means no limit (DrainTimeout still applies).
	MaxDrain int64
	// DrainTimeout bounds that reading; 0 means DefaultDrainTimeout, negative means no
	// separate limit (ReadTimeout still applies).
	DrainTimeout time.Duration
	// ReadBufferSize is the initial read buffer per connection; 0 (or negative: a
	// connection needs one) means DefaultReadBufferSize.
	ReadBufferSize int
	// Limits bound the response heads the client accepts.
	Limits wire.Limits
	// Trace receives the events of every request that has no Trace of its own.
	Trace *Trace

	mu    sync.RWMutex
	pools map[originKey]*hostPool
	// proxyAuthOn records, per proxy URL, that the proxy asked for credentials.
	proxyAuthOn map[string]*atomic.Bool
	nextID      atomic.Uint64
	closed      atomic.Bool
	janitor     janitor

	dialOnce sync.Once
	dial     Dialer
	sessOnce sync.Once
	sess     tls.ClientSessionCache
}

// durOr applies the package's rule to a duration: 0 means the default d, negative
// means none (returned as 0, which callers read as "no deadline").
func durOr(v, d time.Duration) time.Duration {
	switch {
	case v == 0:
		return d
	case v < 0:
		return 0
	}
	return v
}

// limitOr is durOr for limits compared against: none is the largest duration.
func limitOr(v, d time.Duration) time.Duration {
	if v < 0 {
		return math.MaxInt64
	}
	return durOr(v, d)
}

func (cl *Client) maxConnsPerHost() int {
	switch {
	case cl.MaxConnsPerHost > 0:
		return cl.MaxConnsPerHost
	case cl.MaxConnsPerHost < 0:
		return math.MaxInt32
	}
	return DefaultMaxConnsPerHost
}
func (cl *Client) maxIdlePerHost() int {
	switch {
	case cl.MaxIdleConnsPerHost > 0:
		return cl.MaxIdleConnsPerHost
	case cl.MaxIdleConnsPerHost < 0:
		return 0
	}
	return cl.maxConnsPerHost()
}
func (cl *Client) maxWaiters() int {
	switch {
	case cl.MaxWaitersPerHost > 0:
		return cl.MaxWaitersPerHost
	case cl.MaxWaitersPerHost < 0:
		return 0
	}
	return DefaultMaxWaitersPerHost
}
func (cl *Client) poolWaitTimeout() time.Duration {
	return durOr(cl.PoolWaitTimeout, DefaultPoolWaitTimeout)
}
func (cl *Client) idleTimeout() time.Duration { return limitOr(cl.IdleTimeout, DefaultIdleTimeout) }
func (cl *Client) livenessMinIdle() time.Duration {
	return durOr(cl.LivenessCheckMinIdle, DefaultLivenessCheckMinIdle)
}
func (cl *Client) readTimeout() time.Duration  { return durOr(cl.ReadTimeout, DefaultReadTimeout) }
func (cl *Client) writeTimeout() time.Duration { return durOr(cl.WriteTimeout, DefaultWriteTimeout) }
func (cl *Client) expectTimeout() time.Duration {
	return durOr(cl.ExpectContinueTimeout, DefaultExpectContinueTimeout)
}
func (cl *Client) drainTimeout() time.Duration { return durOr(cl.DrainTimeout, DefaultDrainTimeout) }
func (cl *Client) maxBody() int64 {
	switch {
	case cl.MaxResponseBody > 0:
		return cl.MaxResponseBody
	case cl.MaxResponseBody < 0:
		return math.MaxInt64 - 1 // readAll reads one byte past the limit
	}
	return DefaultMaxResponseBody
}
func (cl *Client) maxDrain() int64 {
	switch {
	case cl.MaxDrain > 0:
		return cl.MaxDrain
	case cl.MaxDrain < 0:
		return math.MaxInt64 / 2
	}
	return DefaultMaxDrain
}
func (cl *Client) maxRetries() int {
	switch {
	case cl.MaxRetries > 0:
		return cl.MaxRetries
	case cl.MaxRetries < 0:
		return 0
	}
	return DefaultMaxRetries
}
func (cl *Client) readBufferSize() int {
	if cl.ReadBufferSize > 0 {
		return cl.ReadBufferSize
	}
	return DefaultReadBufferSize
}

// dialer returns the Dialer made of the Client's fields.
func (cl *Client) dialer() *Dialer {
	cl.dialOnce.Do(func() {
		cl.dial = Dialer{Timeout: cl.ConnectTimeout, HappyEyeballsDelay: cl.HappyEyeballsDelay,
			Resolver: cl.Resolver, Resolve: cl.Resolve, DialFunc: cl.Dial, DisableNoDelay: cl.DisableNoDelay}
	})
	return &cl.dial
}

func (cl *Client) sessionCache() tls.ClientSessionCache {
	cl.sessOnce.Do(func() { cl.sess = tls.NewLRUClientSessionCache(256) })
	return cl.sess
}

// Do sends req and reads the whole response into resp (resp.Body holds the body,
// bounded by MaxResponseBody). The connection goes back to the pool before Do
// returns. With Request and Response reused, Do allocates nothing per request on a
// reused connection.
//
// Do follows up to MaxRedirects redirects, and re-sends an idempotent request whose
// reused connection failed before any response byte (up to MaxRetries times; the
// last retry uses a new connection). A request that is not idempotent is never
// re-sent: its error matches ErrNoResponse, so the caller can decide.
//
// Any response, 4xx and 5xx included, is a success; the error reports only failures
// to get one. A 101 Switching Protocols (to a request with an Upgrade field) or a 2xx
// answer to CONNECT hands the connection over: see [Response.SwitchedConn].
func (cl *Client) Do(req *Request, resp *Response) error { return cl.do(req, resp, false, true) }

// DoStream is Do without reading the body: on success, read it from
// resp.BodyReader() and call resp.Close(). The connection stays with the response
// until the body ends or is closed.
func (cl *Client) DoStream(req *Request, resp *Response) error { return cl.do(req, resp, true, true) }

func (cl *Client) do(req *Request, resp *Response, stream, follow bool) error {
	resp.Reset()
	resp.Timings.Start = time.Now()
	if err := req.validate(); err != nil {
		return err
	}
	tr := req.Trace
	if tr == nil {
		tr = cl.Trace
	}
	var deadline time.Time
	timeout := req.Timeout
	if timeout == 0 {
		timeout = cl.Timeout
	}
	if timeout > 0 {
		deadline = resp.Timings.Start.Add(timeout)
	}
	if cl.MaxRedirects <= 0 || !follow {
		err := cl.send(req, resp, tr, deadline, stream)
		resp.URL = req.URL
		return err
	}
	return cl.doRedirects(req, resp, tr, deadline, stream)
}

// validate checks what can be checked before anything is sent.
func (r *Request) validate() error {
	if r.URL.Scheme == "" {
		return &URLError{"", "no URL set"}
	}
	if !wire.IsToken(r.method()) {
		return errors.New("hop/client: invalid method " + quote(r.method()))
	}
	if !validTarget(r.Target) {
		return errors.New("hop/client: invalid request-target " + quote(string(r.Target)))
	}
	h := r.Fields()
	for i := 0; i < h.Len(); i++ {
		n, v := h.At(i)
		if !wire.IsToken(n) || !wire.ValidFieldValue(v) {
			return errors.New("hop/client: invalid header field " + quote(string(n)))
		}
	}
	if r.HTTP10 && r.hasBody && r.ContentLength() < 0 {
		return ErrHTTP10Chunked
	}
	return nil
}

// validTarget reports whether a Target may be sent: nil (none), or visible ASCII
// characters only (no space, control or non-ASCII byte that would split the request
// line).
func validTarget(t []byte) bool {
	if t == nil {
		return true
	}
	if len(t) == 0 {
		return false
	}
	for _, c := range t {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// send runs one request (no redirects) with the retry rules, and the one retry with
// the proxy's credentials after a 407.
func (cl *Client) send(req *Request, resp *Response, tr *Trace, deadline time.Time, stream bool) error {
	p, err := cl.poolFor(&req.URL, req.method() == "CONNECT")
	if err != nil {
		return cl.describe(req, nil, false, &connErr{op: "proxy", err: err}, "")
	}
	var cur bodyCursor
	max := cl.maxRetries()
	start := resp.Timings.Start
	authRetried := false
	for attempt := 0; ; {
		fresh := attempt > 0 && attempt == max
		resp.Timings = Timings{Start: start}
		if tr != nil && tr.GetConn != nil {
			tr.GetConn(p.origin)
		}
		c, reused, idle, err := p.acquire(req.Ctx, deadline, fresh, tr, &resp.Timings)
		if err != nil {
			return cl.describe(req, nil, false, err, "")
		}
		resp.Timings.GotConn = time.Now()
		c.begin(req.Ctx, deadline, tr, req.method())
		if tr != nil && tr.GotConn != nil {
			tr.gotConn(c, reused, idle)
		}
		auth := p.requestAuth()
		err = c.exchange(req, resp, &cur, p.absolute, auth)
		if err == nil {
			resp.Reused = reused
			resp.Retries = attempt
			if authRetried {
				resp.Retries++
			}
			if resp.Status == 407 && !authRetried && p.retryWithAuth(auth, req, &resp.Header) && req.rewind(&cur) {
				// The proxy wants the credentials of its URL: send the request again
				// with them (once), as every later request will be.
				authRetried = true
				resp.stream.close()
				if tr != nil && tr.Retry != nil {
					tr.Retry(attempt+1, errProxyAuth)
				}
				continue
			}
			if stream {
				return nil
			}
			if err := resp.stream.readAll(resp, cl.maxBody()); err != nil {
				return cl.describe(req, c, reused, &connErr{op: "read body", err: err}, "")
			}
			return nil
		}
		ce, _ := err.(*connErr)
		note := ""
		switch {
		case ce == nil || !ce.noResponse || !reused:
		case !req.Idempotent():
			note = "not retried: " + req.method() + " is not idempotent; send Idempotency-Key to allow a retry"
		case !req.rewind(&cur):
			note = "not retried: the streamed body cannot be sent again (set GetBody)"
		case attempt >= max:
			note = "retries exhausted"
		case req.Ctx != nil && req.Ctx.Err() != nil:
		case !deadline.IsZero() && time.Now().After(deadline):
		default:
			attempt++
			if tr != nil && tr.Retry != nil {
				tr.Retry(attempt, &RetryReason{ConnID: c.id, Err: err})
			}
			continue
		}
		return cl.describe(req, c, reused, err, note)
	}
}

// RetryReason is what Trace.Retry reports when a request (or the rest of a pipeline)
// is sent again because its connection ended: which connection, and why.
type RetryReason struct {
	ConnID uint64 // the connection that ended
	// Answered is how many requests of a pipeline the connection answered before it
	// ended (0 for a request of Do, which is re-sent only when no response byte came).
	Answered int
	// Pending is how many requests of a pipeline are sent again (0 for Do).
	Pending int
	// Closed, when set, is why a connection that answered could carry no more, in the
	// words of DoneInfo.CloseReason ("server asked to close", ...); Err is nil then.
	Closed string
	Err    error // the failure of the connection, nil when Closed says why
}

func (r *RetryReason) Error() string {
	id := "conn #" + strconv.FormatUint(r.ConnID, 10)
	switch {
	case r.Pending == 0:
		return "the reused " + id + " failed before any response byte: " + r.Err.Error()
	case r.Err == nil:
		return fmt.Sprintf("%s answered %d and cannot carry more (%s): re-sending %d", id, r.Answered, r.Closed, r.Pending)
	case r.Answered > 0:
		return fmt.Sprintf("%s failed after answering %d (%v): re-sending %d", id, r.Answered, r.Err, r.Pending)
	}
	return fmt.Sprintf("%s failed before answering (%v): re-sending %d", id, r.Err, r.Pending)
}

func (r *RetryReason) Unwrap() error { return r.Err }

// errProxyAuth is what Trace.Retry reports for the retry after a 407.
var errProxyAuth = errors.New("proxy asked for authentication (407): sending the proxy URL's credentials")

// describe wraps a failure into an *Error.
func (cl *Client) describe(req *Request, c *conn, reused bool, err error, note string) error {
	e := &Error{Method: req.method(), URL: req.URL.Redacted(), Op: "request", Note: note, Err: err}
	if c != nil {
		e.ConnID, e.Reused = c.id, reused
	}
	var ce *connErr
	if errors.As(err, &ce) {
		e.Op, e.NoResponse, e.Err = ce.op, ce.noResponse && c != nil, ce.err
	} else if errors.Is(err, ErrPoolTimeout) || errors.Is(err, ErrPoolFull) || errors.Is(err, ErrClientClosed) {
		e.Op = "pool"
	}
	return e
}

// poolFor returns the pool of the URL's origin (and proxy, unless direct).
func (cl *Client) poolFor(u *URL, direct bool) (*hostPool, error) {
	key := originKey{scheme: u.Scheme, host: u.Host, port: u.EffectivePort()}
	var proxy *URL
	if cl.Proxy != nil && !direct {
		pu, err := cl.Proxy(u)
		if err != nil {
			return nil, err
		}
		if pu != nil {
			proxy = pu
			key.proxy = pu.String()
		}
	}
	cl.mu.RLock()
	p := cl.pools[key]
	cl.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if p = cl.pools[key]; p != nil {
		return p, nil
	}
	if cl.pools == nil {
		cl.pools = make(map[originKey]*hostPool)
	}
	// Own copies of the key strings: the URL's may point into a larger input.
	key = originKey{scheme: clone(key.scheme), host: clone(key.host), port: clone(key.port), proxy: key.proxy}
	p = &hostPool{cl: cl, key: key, origin: key.scheme + "://" + net.JoinHostPort(key.host, key.port),
		lastUse: time.Now()} // not forgotten before its first request takes a slot
	if proxy != nil {
		pu := *proxy
		p.proxyURL = &pu
		p.origin += " via " + pu.Redacted()
		p.absolute = key.scheme == "http"
		if pu.User != "" {
			p.proxyAuth = basicAuth(pu.User)
		}
		if cl.proxyAuthOn == nil {
			cl.proxyAuthOn = make(map[string]*atomic.Bool)
		}
		if p.authOn = cl.proxyAuthOn[key.proxy]; p.authOn == nil {
			p.authOn = new(atomic.Bool)
			cl.proxyAuthOn[key.proxy] = p.authOn
		}
	}
	cl.pools[key] = p
	return p, nil
}

func clone(s string) string { return string(append([]byte(nil), s...)) }

// basicAuth turns percent-encoded userinfo into a Basic credential.
func basicAuth(userinfo string) string {
	plain, _ := wire.AppendUnescaped(nil, userinfo, wire.EscapePolicy{}) // the URL parser checked it
	return "Basic " + base64.StdEncoding.EncodeToString(plain)
}

// Stats returns the pool counters summed over all origins.
func (cl *Client) Stats() Stats {
	var s Stats
	for _, p := range cl.allPools() {
		s.add(p.snapshot())
	}
	return s
}

// OriginStats returns the pool counters of each origin, sorted by origin.
func (cl *Client) OriginStats() []OriginStats {
	pools := cl.allPools()
	out := make([]OriginStats, 0, len(pools))
	for _, p := range pools {
		out = append(out, OriginStats{Origin: p.origin, Stats: p.snapshot()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out
}

// CloseIdleConnections closes every idle connection.
func (cl *Client) CloseIdleConnections() {
	for _, p := range cl.allPools() {
		p.sweep(time.Now(), true)
	}
}

// Close closes idle connections and stops the background sweeper. Requests waiting
// for a connection (at the per-host limit) fail at once, and so do new requests, with
// ErrClientClosed; connections in use are closed when their exchange ends.
func (cl *Client) Close() error {
	cl.closed.Store(true)
	for _, p := range cl.allPools() {
		p.failWaiters(ErrClientClosed)
	}
	cl.CloseIdleConnections()
	cl.stopJanitor()
	return nil
}

func (cl *Client) allPools() []*hostPool {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	pools := make([]*hostPool, 0, len(cl.pools))
	for _, p := range cl.pools {
		pools = append(pools, p)
	}
	return pools
}
