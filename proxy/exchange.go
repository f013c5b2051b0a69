package proxy

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// Exchanger forwards one request and produces its response: the seam between the
// proxy's request handling and whatever answers (the upstream [Transport], or a cache
// wrapped around it).
//
// Exchange is called with x.Req ready to send and x.Resp empty. On success it has
// filled x.Resp's head (status, reason, end-to-end fields; no hop-by-hop field) and set
// x.Body to the response body (nil for none); the proxy then reads x.Body and closes
// it exactly once. An error means no response head is available: the proxy answers
// 502, 503 or 504 from the error (see [StatusFor]).
//
// A wrapper (a cache) may answer by itself (fill x.Resp and set x.Body from its
// store, leaving x.Upstream zero), or call the next Exchanger and then wrap x.Body
// (to tee a body into storage as it streams: the body is complete when Read returns
// io.EOF, truncated on any other error), and may add response fields such as
// Cache-Status to x.Resp.Header; the proxy copies every field of x.Resp.Header to the
// client. The next Exchanger may rewrite x.Req.URL (the reverse proxy points it at the
// chosen upstream): derive keys from x.Req before calling it.
//
// The Proxy calls Exchange with context.Background(): it learns that a client went
// away only when a write to it fails (server.Request.Context would arm a read for
// every request), so an Exchanger's waits must be bounded by timeouts of its own, not
// by ctx. ctx serves other callers with a context to honour; Transport and the cache
// do honour it (a cancelled ctx ends a coalesced request's wait).
type Exchanger interface {
	Exchange(ctx context.Context, x *Exchange) error
}

// BodyWaiter is implemented by response bodies that can tell whether their next Read
// would wait: for the network (an upstream that paused), for a coalesced request's
// bytes (a cache). Before such a Read the proxy flushes what it has written to the
// client — the head, and the body so far — so that server-sent events, long polling
// and slow generators reach the client as they are produced, while pieces that arrive
// together are written together. A body that does not implement it is flushed after
// every piece it returns.
type BodyWaiter interface {
	// ReadWaits reports whether the next Read would block.
	ReadWaits() bool
}

// ExchangerFunc adapts a function to the Exchanger interface.
type ExchangerFunc func(ctx context.Context, x *Exchange) error

// Exchange calls f(ctx, x).
func (f ExchangerFunc) Exchange(ctx context.Context, x *Exchange) error { return f(ctx, x) }

// Exchange is one request on its way through the proxy and, after
// [Exchanger.Exchange], its response. The proxy reuses Exchanges: nothing in one may be
// kept after the request ends, and strings in Req.URL point into the Exchange's own
// storage, so copy (strings.Clone) what must outlive it.
type Exchange struct {
	// In is the client's request as the server parsed it: read it, do not change it.
	// Its fields and body are valid only during the exchange.
	In *server.Request
	// Client is the address of the client connection.
	Client netip.AddrPort

	// Req is the request to send: method, absolute URL (the effective request URI,
	// RFC 9110 §7.1; scheme and authority of the origin in forward mode, of the Host
	// the client asked for in reverse mode), and the end-to-end fields of the client's
	// request — hop-by-hop fields removed, Via (and in reverse mode X-Forwarded-* and
	// Forwarded) added, the client's request directives (Cache-Control, Pragma,
	// conditionals) unchanged. Its body streams from In.
	Req client.Request

	// Resp is the response head, filled by the Exchanger.
	Resp client.Response
	// Body is the response body, set by the Exchanger; nil means none.
	Body io.ReadCloser
	// Upstream describes the upstream side of the exchange, for the access log; zero
	// when no upstream was asked.
	Upstream Upstream

	// storage reused from request to request
	urlBuf  []byte // the effective request URI that Req.URL was parsed from
	upBuf   []byte // the upstream URL (reverse mode)
	scratch []byte // field values being built
	copyBuf []byte // response body copy buffer
	body    responseBody
	// trailerNames is the upstream's Trailer field (the announced trailer names),
	// kept when its hop-by-hop fields are removed, so the announcement can be
	// forwarded with the trailers.
	trailerNames []byte
	// w is the client's response while the exchange runs (for 1xx relayed from trace).
	w       *server.ResponseWriter
	trace   client.Trace
	interim wire.Header // the end-to-end fields of a 1xx being relayed
}

// Upstream describes how an exchange reached its upstream.
type Upstream struct {
	// Name is the upstream as configured (reverse mode) or the origin
	// "scheme://host:port" (forward mode).
	Name string
	// ConnID and Reused identify the upstream connection and whether it carried an
	// earlier request; Addr is its remote address.
	ConnID uint64
	Reused bool
	Addr   net.Addr
	// Retries counts the times the request was sent again (client retries on a
	// reused connection) plus the upstreams tried after a failed connection set-up.
	Retries int
	// Head is the time from sending the request to the response head.
	Head time.Duration
}

var exchangePool = sync.Pool{New: func() any {
	x := new(Exchange)
	x.trace.Got1xx = x.got1xx // bound once: a method value allocates
	return x
}}

func getExchange() *Exchange { return exchangePool.Get().(*Exchange) }

// release clears x and returns it to the pool. Oversized buffers are dropped.
func (x *Exchange) release() {
	if x.Body != nil {
		x.Body.Close()
	}
	x.Req.Reset()
	x.Resp.Reset()
	if cap(x.Resp.Body) > 64<<10 {
		x.Resp.Body = nil
	}
	x.In, x.Body, x.Client = nil, nil, netip.AddrPort{}
	x.Upstream = Upstream{}
	x.body = responseBody{}
	x.urlBuf, x.upBuf, x.scratch = x.urlBuf[:0], x.upBuf[:0], x.scratch[:0]
	x.trailerNames = x.trailerNames[:0]
	x.w = nil
	exchangePool.Put(x)
}

// responseBody is the Body of a response streamed from a client.Response. Closing it
// releases the backend (least-connections counts requests until their body ends).
type responseBody struct {
	resp *client.Response
	b    *backend // nil in forward mode
}

func (b *responseBody) Read(p []byte) (int, error) { return b.resp.BodyReader().Read(p) }

// ReadWaits implements BodyWaiter.
func (b *responseBody) ReadWaits() bool { return b.resp.BodyWaits() }

func (b *responseBody) Close() error {
	err := b.resp.Close()
	if b.b != nil {
		b.b.inflight.Add(-1)
		b.b = nil
	}
	return err
}

// got1xx relays an informational response of the upstream to the client: 100 Continue
// when the client is waiting for it, 103 Early Hints and others with their end-to-end
// fields. The fields go only into the interim response, not into the final one.
func (x *Exchange) got1xx(status int, h *wire.Header) error {
	w := x.w
	if w == nil {
		return nil
	}
	if status == 100 {
		if x.In != nil && x.In.Expect100 {
			w.WriteHeader(100)
		}
		return nil
	}
	e2e := &x.interim
	e2e.CopyFrom(h)
	wire.RemoveHopByHop(e2e)
	wh := w.Header()
	before := wh.Len()
	for i := 0; i < e2e.Len(); i++ {
		n, v := e2e.At(i)
		if !wire.IsConnectionManaged(n) {
			wire.Add(wh, n, v)
		}
	}
	w.WriteHeader(status)
	for wh.Len() > before {
		wh.DelAt(wh.Len() - 1)
	}
	return nil
}
