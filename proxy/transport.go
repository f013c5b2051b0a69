package proxy

import (
	"context"
	"errors"
	"syscall"
	"time"
	"unsafe"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/wire"
)

// Transport is the [Exchanger] that sends requests upstream over a [client.Client]'s
// persistent connections: in forward mode to the origin named by x.Req.URL, in
// reverse mode (Upstreams set) to the upstream the Balancer picks, with the request's
// path and query under that upstream's prefix.
//
// The client's retry rules are the engine's (DESIGN.md): a request whose reused
// connection failed before any response byte is sent again only when it is
// idempotent or carries Idempotency-Key; a POST is never re-sent. In reverse mode a
// request whose connection could not even be set up (refused, unreachable, TLS
// failure: nothing was sent) goes to the next healthy upstream, whatever its method.
type Transport struct {
	// Client sends the requests; required.
	Client *client.Client
	// Upstreams, when set, makes the transport a reverse proxy over them.
	Upstreams *Balancer
	// HostHeader chooses the Host sent upstream in reverse mode: "" passes the
	// client's Host through, "upstream" sends the upstream's own authority, anything
	// else is sent as it is.
	HostHeader string
}

// ErrNoUpstream is returned when no upstream can take the request.
var ErrNoUpstream = errors.New("hop/proxy: no upstream available")

// Exchange forwards x.Req and fills x.Resp and x.Body.
func (t *Transport) Exchange(ctx context.Context, x *Exchange) error {
	if ctx != nil && ctx != context.Background() {
		x.Req.Ctx = ctx
	}
	bal := t.Upstreams
	if bal == nil {
		x.Upstream.Name = x.Req.URL.Authority()
		return t.do(x, nil)
	}
	path, query, force := x.Req.URL.Path, x.Req.URL.RawQuery, x.Req.URL.ForceQuery
	switch t.HostHeader {
	case "":
		if !x.Req.Header.Has("Host") {
			wire.Add(&x.Req.Header, "Host", x.Req.URL.Authority())
		}
	case "upstream":
		x.Req.Header.Del("Host")
	default:
		x.Req.Header.Set("Host", t.HostHeader)
	}
	var tried [4]*backend
	skip := tried[:0]
	for {
		be := bal.pick(skip)
		if be == nil {
			return ErrNoUpstream
		}
		b := append(x.upBuf[:0], be.prefix...)
		b = append(b, path...)
		if query != "" || force {
			b = append(b, '?')
			b = append(b, query...)
		}
		x.upBuf = b
		if err := x.Req.URL.Set(unsafe.String(unsafe.SliceData(b), len(b))); err != nil {
			be.inflight.Add(-1)
			bal.unreported(be)
			return err
		}
		x.Upstream.Name = be.name
		err := t.do(x, be)
		if err == nil {
			bal.report(be, true)
			return nil
		}
		be.inflight.Add(-1)
		if upstreamFault(err) {
			bal.report(be, false)
		} else {
			bal.unreported(be)
		}
		if !setupFailed(err) || len(skip)+1 >= bal.Len() {
			return err
		}
		skip = append(skip, be)
		x.Upstream.Retries++
	}
}

// do runs one exchange on the client.
func (t *Transport) do(x *Exchange, be *backend) error {
	start := time.Now()
	err := t.Client.DoStream(&x.Req, &x.Resp)
	x.Upstream.Head = time.Since(start)
	if err != nil {
		return err
	}
	r := &x.Resp
	x.Upstream.ConnID, x.Upstream.Reused, x.Upstream.Addr = r.ConnID, r.Reused, r.RemoteAddr
	x.Upstream.Retries += r.Retries
	if r.Framing == wire.FramingChunked {
		r.Header.Values("Trailer", func(v []byte) {
			if len(x.trailerNames) > 0 {
				x.trailerNames = append(x.trailerNames, ", "...)
			}
			x.trailerNames = append(x.trailerNames, v...)
		})
	}
	if r.Status == 101 {
		// Switching protocols: Upgrade says to what, and goes to the client.
		x.scratch = append(x.scratch[:0], r.Header.Get("Upgrade")...)
		wire.RemoveHopByHop(&r.Header)
		wire.Add(&r.Header, "Upgrade", x.scratch)
	} else {
		wire.RemoveHopByHop(&r.Header)
	}
	x.body = responseBody{resp: r, b: be}
	x.Body = &x.body
	return nil
}

// setupFailed reports whether err happened before anything was sent: the connection
// could not be resolved, connected or secured.
func setupFailed(err error) bool {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Op {
	case "resolve", "connect", "tls", "proxy":
		return true
	}
	return false
}

// upstreamFault reports whether err counts against the upstream's health: the
// upstream could not be reached, reset or closed the connection, timed out or sent
// something malformed. Pool limits and the client's own failures do not count.
func upstreamFault(err error) bool {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Op {
	case "pool", "read request body":
		return false
	}
	return true
}

// StatusFor maps the error of a failed exchange to the status the proxy answers and a
// Proxy-Status error type (RFC 9209): 504 for timeouts, 503 when the connection limit
// to the upstream is reached, 502 for everything else the upstream did wrong.
// Status 0 means the client's own request failed (a malformed or truncated request
// body): the server answers that, or the client is gone.
func StatusFor(err error) (status int, kind string) {
	var ce *client.Error
	if !errors.As(err, &ce) {
		if errors.Is(err, ErrNoUpstream) {
			return 502, "destination_unavailable"
		}
		return 502, "proxy_internal_error"
	}
	timeout := ce.Timeout()
	switch ce.Op {
	case "pool":
		return 503, "connection_limit_reached"
	case "read request body":
		return 0, "http_request_error"
	case "resolve":
		if timeout {
			return 504, "dns_timeout"
		}
		return 502, "dns_error"
	case "connect", "proxy":
		switch {
		case timeout:
			return 504, "connection_timeout"
		case errors.Is(ce.Err, syscall.ECONNREFUSED):
			return 502, "connection_refused"
		}
		return 502, "destination_unavailable"
	case "tls":
		if timeout {
			return 504, "connection_timeout"
		}
		return 502, "tls_protocol_error"
	}
	// write request, read response
	var we *wire.Error
	switch {
	case timeout:
		return 504, "http_response_header_timeout"
	case errors.As(ce.Err, &we):
		return 502, "http_protocol_error"
	case errors.Is(ce.Err, client.ErrUnrequestedUpgrade):
		return 502, "http_protocol_error"
	}
	return 502, "connection_terminated"
}
