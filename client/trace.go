package client

import (
	"crypto/tls"
	"net"
	"net/netip"
	"time"

	"github.com/hop-http/hop/wire"
)

// Trace receives the events of a request, in the order they happen, like
// net/http/httptrace. Every field is optional. The callbacks run synchronously on the
// goroutine doing the request, one at a time: Happy Eyeballs dials its addresses on
// goroutines of their own, but ConnectStart and ConnectDone are reported from the
// request's goroutine; after DoStream, Done runs on the goroutine that reads or closes
// the body. They must be quick; slices they receive are valid only during the call.
//
// A request with redirects or retries reports the events of every attempt; Redirect
// and Retry separate them.
type Trace struct {
	// GetConn is called when the request asks the pool for a connection to
	// origin ("scheme://host:port").
	GetConn func(origin string)
	// PoolWait is called when the pool is at its per-host limit and the request
	// starts waiting for a connection.
	PoolWait func()
	// DNSStart and DNSDone bracket name resolution for a new connection.
	DNSStart func(host string)
	DNSDone  func(info DNSInfo) // the lookup ended
	// ConnectStart and ConnectDone bracket each TCP connection attempt (Happy
	// Eyeballs may run several, overlapping).
	ConnectStart func(addr netip.AddrPort)
	ConnectDone  func(addr netip.AddrPort, err error) // an attempt ended
	// ProxyConnect is called when a CONNECT tunnel through a proxy is set up or fails.
	ProxyConnect func(proxy string, target string, err error)
	// TLSStart and TLSDone bracket the TLS handshake.
	TLSStart func()
	TLSDone  func(state *tls.ConnectionState, err error) // state is nil on error
	// GotConn is called when the request has a connection, new or reused.
	GotConn func(info ConnInfo)
	// WroteHead is called with the serialized request head once it is written.
	WroteHead func(head []byte)
	// Got1xx is called for every informational response before the final one (100
	// Continue, 102, 103 Early Hints, ...; not 101, which is final), with its fields,
	// valid only during the call. A proxy forwards them to its own client from here.
	// A non-nil error fails the request with that error.
	Got1xx func(status int, header *wire.Header) error
	// Got100Continue is called when the server answers Expect: 100-continue (after
	// Got1xx).
	Got100Continue func()
	// WroteRequest is called when the whole request, body included, is written (or
	// writing failed).
	WroteRequest func(err error)
	// FirstByte is called when the first byte of the response arrives.
	FirstByte func()
	// GotHead is called with the raw head of each response received, 1xx included.
	GotHead func(head []byte)
	// Done is called when the exchange is over: the body read (or abandoned) and the
	// connection released or closed.
	Done func(info DoneInfo)
	// Retry is called before a request is sent again on another connection: attempt
	// counts the re-sends of the request (or of the rest of a pipeline run) from 1, err
	// says why — a *RetryReason when its connection ended (failed, or could carry no
	// more), or the proxy's demand for credentials after a 407.
	Retry func(attempt int, err error)
	// Redirect is called before a redirect is followed; to has its password redacted.
	Redirect func(status int, to string)
}

// DNSInfo describes a finished lookup.
type DNSInfo struct {
	Host   string       // the name looked up
	Addrs  []netip.Addr // the addresses found
	Source string       // resolve.Source* or "override" for Client.Resolve entries
	Err    error        // why the lookup failed
}

// ConnInfo describes the connection a request got.
type ConnInfo struct {
	ID         uint64               // connection number, unique within the Client, from 1
	Reused     bool                 // the connection carried an earlier request
	IdleTime   time.Duration        // how long it was idle before, when reused
	Requests   int                  // requests on this connection including this one
	LocalAddr  net.Addr             // the client's end
	RemoteAddr net.Addr             // the server's (or proxy's) end
	TLS        *tls.ConnectionState // nil for plain connections
	Proxy      string               // proxy URL, "" when direct
}

// DoneInfo describes the end of an exchange.
type DoneInfo struct {
	ConnID    uint64 // the connection's number
	Status    int    // final status, 0 if none arrived
	BodyBytes int64  // body bytes received
	Err       error  // why the exchange failed, nil on success
	// KeptAlive reports that the connection went back to the pool.
	KeptAlive bool
	// CloseReason says why the connection was closed when it was not kept, in words
	// ("server asked to close", "request asked to close", ...).
	CloseReason string
}

// gotConn reports c to GotConn; the caller checks that t and t.GotConn are set (so
// that no ConnInfo is built for nothing).
func (t *Trace) gotConn(c *conn, reused bool, idle time.Duration) {
	t.GotConn(ConnInfo{ID: c.id, Reused: reused, IdleTime: idle, Requests: c.requests + 1,
		LocalAddr: c.localAddr, RemoteAddr: c.remoteAddr, TLS: c.tlsState, Proxy: c.proxy})
}

func (t *Trace) done(info DoneInfo) {
	if t != nil && t.Done != nil {
		t.Done(info)
	}
}

// Timings records the phases of requests, for waterfalls and JSON reports. Attach it
// with [Timings.Trace]; read it after the request completes. For a request that was
// redirected or retried, the phases describe the last attempt and Total the whole.
//
// Phase durations are zero when the phase did not happen (DNS, connect and TLS on a
// reused connection).
type Timings struct {
	Start             time.Time // the request began (Trace was called)
	DNSStart, DNSDone time.Time // name resolution
	ConnectStart      time.Time // first connection attempt began
	ConnectDone       time.Time // a connection was established
	TLSStart, TLSDone time.Time // TLS handshake
	GotConn           time.Time // the request got its connection
	WroteRequest      time.Time // the request was written
	FirstByte         time.Time // the first response byte arrived
	Done              time.Time // the body ended and the connection was released
}

// DNS is the time spent resolving the host name.
func (t *Timings) DNS() time.Duration { return span(t.DNSStart, t.DNSDone) }

// Connect is the time from the first connection attempt to an established connection.
func (t *Timings) Connect() time.Duration { return span(t.ConnectStart, t.ConnectDone) }

// TLS is the time of the TLS handshake.
func (t *Timings) TLS() time.Duration { return span(t.TLSStart, t.TLSDone) }

// Request is the time from getting the connection to the end of writing the request.
func (t *Timings) Request() time.Duration { return span(t.GotConn, t.WroteRequest) }

// Wait is the time from the end of the request to the first byte of the response.
func (t *Timings) Wait() time.Duration { return span(t.WroteRequest, t.FirstByte) }

// Transfer is the time from the first byte to the end of the body.
func (t *Timings) Transfer() time.Duration { return span(t.FirstByte, t.Done) }

// Total is the time from the start to the end of the body.
func (t *Timings) Total() time.Duration { return span(t.Start, t.Done) }

func span(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0
	}
	return b.Sub(a)
}

// Trace returns a Trace that records into t and then calls next (which may be nil).
// Start is set now.
func (t *Timings) Trace(next *Trace) *Trace {
	*t = Timings{Start: time.Now()}
	if next == nil {
		next = &Trace{}
	}
	tr := *next
	tr.GetConn = func(o string) {
		// A new attempt (retry or redirect): forget the phases of the last one.
		start := t.Start
		*t = Timings{Start: start}
		if next.GetConn != nil {
			next.GetConn(o)
		}
	}
	tr.DNSStart = func(h string) {
		t.DNSStart = time.Now()
		if next.DNSStart != nil {
			next.DNSStart(h)
		}
	}
	tr.DNSDone = func(i DNSInfo) {
		t.DNSDone = time.Now()
		if next.DNSDone != nil {
			next.DNSDone(i)
		}
	}
	tr.ConnectStart = func(a netip.AddrPort) {
		if t.ConnectStart.IsZero() {
			t.ConnectStart = time.Now()
		}
		if next.ConnectStart != nil {
			next.ConnectStart(a)
		}
	}
	tr.ConnectDone = func(a netip.AddrPort, err error) {
		if err == nil {
			t.ConnectDone = time.Now()
		}
		if next.ConnectDone != nil {
			next.ConnectDone(a, err)
		}
	}
	tr.TLSStart = func() {
		t.TLSStart = time.Now()
		if next.TLSStart != nil {
			next.TLSStart()
		}
	}
	tr.TLSDone = func(s *tls.ConnectionState, err error) {
		t.TLSDone = time.Now()
		if next.TLSDone != nil {
			next.TLSDone(s, err)
		}
	}
	tr.GotConn = func(i ConnInfo) {
		t.GotConn = time.Now()
		if next.GotConn != nil {
			next.GotConn(i)
		}
	}
	tr.WroteRequest = func(err error) {
		t.WroteRequest = time.Now()
		if next.WroteRequest != nil {
			next.WroteRequest(err)
		}
	}
	tr.FirstByte = func() {
		if t.FirstByte.IsZero() {
			t.FirstByte = time.Now()
		}
		if next.FirstByte != nil {
			next.FirstByte()
		}
	}
	tr.Done = func(i DoneInfo) {
		t.Done = time.Now()
		if next.Done != nil {
			next.Done(i)
		}
	}
	return &tr
}
