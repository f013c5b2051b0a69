package proxy

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// Proxy is a forward or reverse HTTP/1.1 proxy: a [server.Handler] that sends every
// request it accepts through an [Exchanger] (normally a [Transport] over a client
// pool) and streams the response back. Fields must not change once it serves.
type Proxy struct {
	// Exchanger forwards the requests; required.
	Exchanger Exchanger
	// Reverse makes the proxy a reverse proxy: origin-form requests are accepted and
	// their effective URI is built from Host; X-Forwarded-For/-Proto/-Host and
	// Forwarded are added. Otherwise it is a forward proxy: requests must be in
	// absolute form (or CONNECT).
	Reverse bool
	// Name is the pseudonym in the Via fields the proxy adds, and the one it looks
	// for in received Via fields to detect loops (508). It must be a token, unique in
	// a chain of proxies; default "hop".
	Name string
	// AllowFrom lists the client networks served; others get 403. Empty means
	// loopback only: an open relay is a bug, not a default.
	AllowFrom []netip.Prefix
	// Trust lists the peers whose X-Forwarded-* and Forwarded fields are kept and
	// extended (reverse mode); from anyone else they are replaced.
	Trust []netip.Prefix
	// Auth, "user:password", requires Proxy-Authorization: Basic with those
	// credentials (forward mode); without it the proxy answers 407 with
	// Proxy-Authenticate: Basic.
	Auth string
	// ConnectPorts lists the ports CONNECT may reach; empty means 443 only.
	ConnectPorts []int
	// Dial connects CONNECT tunnels to their targets; nil means a client.Dialer
	// (hop's resolver, Happy Eyeballs).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectTimeout bounds that connection set-up (504 past it); 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// MaxTunnels bounds the tunnels (CONNECT and upgrades) open at once; past it a
	// new one is answered 503 and counted (TunnelCounts, errors_total{kind=
	// "tunnel_limit"}). 0 means DefaultMaxTunnels, negative no bound.
	MaxTunnels int
	// TunnelIdleTimeout closes a tunnel through which no byte moved either way for
	// that long, half-closed or not (it is closed between once and twice that after
	// its last byte), and one whose peer accepts no byte for that long. 0 means
	// DefaultTunnelIdleTimeout, negative none.
	TunnelIdleTimeout time.Duration
	// AccessLog receives one record per request; nil means none.
	AccessLog *slog.Logger
	// Metrics, when set, is updated for every request (see [NewMetrics]).
	Metrics *Metrics

	tunnels tunnelSet

	once    sync.Once
	name    string
	via     [2]string // "1.0 name", "1.1 name"
	authHdr []byte    // the expected Proxy-Authorization credentials (base64)
	status  string    // Proxy-Status prefix: name + "; error="
}

func (p *Proxy) init() {
	p.once.Do(func() {
		p.name = p.Name
		if p.name == "" {
			p.name = "hop"
		}
		p.via = [2]string{"1.0 " + p.name, "1.1 " + p.name}
		if p.Auth != "" {
			p.authHdr = []byte(base64.StdEncoding.EncodeToString([]byte(p.Auth)))
		}
		p.status = p.name + "; error="
	})
}

// Shutdown ends the proxy's tunnels gracefully, to go with the server's Shutdown
// (call it after that returns, with the same deadline): tunnels (CONNECT and
// upgrades) are connections the server handed over and no longer waits for. From
// the call on, a new CONNECT or upgrade is answered 503; the tunnels already open
// carry on until both sides end them or ctx is done, when their connections are
// closed and Shutdown returns ctx's error.
func (p *Proxy) Shutdown(ctx context.Context) error { return p.tunnels.shutdown(ctx) }

// Tunnels returns the number of tunnels open (or being set up).
func (p *Proxy) Tunnels() int { return p.tunnels.count() }

// Defaults of a Proxy's tunnels.
const (
	DefaultMaxTunnels        = 4096
	DefaultTunnelIdleTimeout = 10 * time.Minute
)

// TunnelCounts are the proxy's tunnel counters.
type TunnelCounts struct {
	Open       int   // tunnels open or being set up
	Refused    int64 // refused because MaxTunnels were open
	IdleClosed int64 // closed by TunnelIdleTimeout
}

// TunnelCounts returns the proxy's tunnel counters.
func (p *Proxy) TunnelCounts() TunnelCounts {
	return TunnelCounts{Open: p.tunnels.count(), Refused: p.tunnels.refused.Load(), IdleClosed: p.tunnels.idleClosed.Load()}
}

func (p *Proxy) maxTunnels() int { return setting(p.MaxTunnels, DefaultMaxTunnels) }

func (p *Proxy) tunnelIdle() time.Duration {
	return setting(p.TunnelIdleTimeout, DefaultTunnelIdleTimeout)
}

// setting is a field's value: def for 0, 0 (none) for a negative.
func setting[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// ServeHOP handles one client request.
func (p *Proxy) ServeHOP(w *server.ResponseWriter, r *server.Request) {
	p.init()
	start := time.Now()
	x := getExchange()
	x.In = r
	x.Client = r.RemoteAddrPort()
	rec := record{start: start}
	defer func() {
		// The exchange is released before a panic goes on (an aborted response
		// panics with server.ErrAbortHandler): releasing closes the body, which ends
		// the upstream exchange (its in-flight count, a stored entry's file).
		pv := recover()
		p.finish(w, r, x, &rec, pv)
		x.release()
		if pv != nil {
			panic(pv)
		}
	}()
	if status, kind, msg := p.admit(w, r, x); status != 0 {
		rec.kind = kind
		p.answer(w, status, "", msg)
		return
	}
	if r.IsMethod("CONNECT") {
		p.connect(w, r, x, &rec)
		return
	}
	if status, msg := p.prepare(w, r, x); status != 0 {
		if status > 0 {
			rec.kind = "bad_request"
			p.answer(w, status, "", msg)
		}
		return
	}
	if err := p.Exchanger.Exchange(context.Background(), x); err != nil {
		status, kind := StatusFor(err)
		rec.kind, rec.err = kind, err
		if status != 0 {
			p.answer(w, status, kind, errorText(status))
			return
		}
		// The client's own request body failed. A malformed one is answered by the
		// server (400, 408, 413); a client that went away gets nothing.
		var we *wire.Error
		if !errors.As(err, &we) {
			panic(server.ErrAbortHandler)
		}
		return
	}
	rec.upstream = true
	p.respond(w, r, x, &rec)
}

// record collects what the access log and the metrics report about one request.
type record struct {
	start    time.Time
	upstream bool   // an Exchanger answered
	kind     string // error kind, "" on success
	err      error
	aborted  bool // the response was cut short (upstream truncation)

	tunnel      bool // CONNECT or upgrade: bytes were relayed
	tunnelStats TunnelStats
}

// admit applies the client policy: allowed networks, proxy authentication, loops.
// It returns a status, an error kind and a reason to refuse, or 0.
func (p *Proxy) admit(w *server.ResponseWriter, r *server.Request, x *Exchange) (int, string, string) {
	if !p.allowed(x.Client.Addr()) {
		w.CloseAfter()
		return 403, "denied", "client address not allowed (--allow-from)"
	}
	if !p.Reverse && p.authHdr != nil && !p.authorized(r.Header.Get("Proxy-Authorization")) {
		w.Header().Add("Proxy-Authenticate", `Basic realm="`+p.name+`", charset="UTF-8"`)
		return 407, "auth_required", "proxy authentication required"
	}
	if p.looped(&r.Header) {
		return 508, "loop_detected", "loop detected: the request already passed this proxy (Via)"
	}
	return 0, "", ""
}

func (p *Proxy) allowed(a netip.Addr) bool {
	a = a.Unmap()
	if len(p.AllowFrom) == 0 {
		return a.IsLoopback()
	}
	return inAny(p.AllowFrom, a)
}

func inAny(list []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, pf := range list {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// authorized checks a Proxy-Authorization value against the configured credentials.
func (p *Proxy) authorized(v []byte) bool {
	v = wire.TrimOWS(v)
	if len(v) < 6 || !wire.EqualFold(v[:6], "basic ") {
		return false
	}
	return subtle.ConstantTimeCompare(wire.TrimOWS(v[6:]), p.authHdr) == 1
}

// looped reports whether a Via field names this proxy (received-by = our Name).
func (p *Proxy) looped(h *wire.Header) bool {
	found := false
	h.Values("Via", func(v []byte) {
		wire.ForEachToken(v, func(elem []byte) bool {
			// elem: received-protocol RWS received-by [ RWS comment ]
			i := bytes.IndexAny(elem, " \t")
			if i < 0 {
				return true
			}
			by := bytes.TrimLeft(elem[i:], " \t")
			if j := bytes.IndexAny(by, " \t"); j >= 0 {
				by = by[:j]
			}
			found = wire.EqualFold(by, p.name)
			return !found
		})
	})
	return found
}

// prepare builds x.Req from the client's request. It returns a status (and reason)
// to answer instead of forwarding, or 0.
func (p *Proxy) prepare(w *server.ResponseWriter, r *server.Request, x *Exchange) (int, string) {
	// The effective request URI.
	t := r.Target
	u := x.urlBuf[:0]
	asterisk := false // OPTIONS * (RFC 9112 §3.2.4): the server as a whole
	switch {
	case len(t) > 0 && t[0] == '/' || r.Form == wire.FormAsterisk:
		if !p.Reverse {
			return 400, "a forward proxy needs the absolute form (http://host/path)"
		}
		if r.TLS() != nil {
			u = append(u, "https://"...)
		} else {
			u = append(u, "http://"...)
		}
		if len(r.Host) > 0 {
			u = append(u, r.Host...)
		} else {
			// An HTTP/1.0 request without Host: the address it arrived on stands in.
			u = append(u, r.LocalAddr().String()...)
		}
		if r.Form == wire.FormAsterisk {
			asterisk = true
		} else {
			u = append(u, t...)
		}
	case r.Form == wire.FormAbsolute && hasWebScheme(t):
		u = append(u, t...)
		// OPTIONS to an absolute URI with an empty path is sent on as OPTIONS *
		// (RFC 9112 §3.2.4).
		parts := wire.SplitURI(t)
		asterisk = r.IsMethod("OPTIONS") && len(parts.Path) == 0 && !parts.HasQuery
	default:
		return 400, "request target cannot be forwarded"
	}
	if asterisk {
		x.Req.Target = asteriskTarget
	}
	x.urlBuf = u
	if err := x.Req.URL.Set(unsafe.String(unsafe.SliceData(u), len(u))); err != nil {
		return 400, "request target cannot be forwarded"
	}
	x.Req.Method = client.Method(r.Method)

	// Fields: end-to-end only.
	h := &x.Req.Header
	in := &r.Header
	for i := 0; i < in.Len(); i++ {
		n, v := in.At(i)
		wire.Add(h, n, v)
	}
	upgrade := r.Upgrade && r.Minor >= 1
	if upgrade {
		// The upgrade is tunnelled: Upgrade goes along (the client adds Connection:
		// upgrade), everything else hop-by-hop stays here.
		x.scratch = append(x.scratch[:0], r.Header.Get("Upgrade")...)
	}
	wire.RemoveHopByHop(h)
	if upgrade {
		wire.Add(h, "Upgrade", x.scratch)
	}
	if p.Reverse {
		if len(t) > 0 && t[0] != '/' {
			// absolute form: its authority is the host (RFC 9112 §3.2.2)
			h.Del("Host")
			wire.Add(h, "Host", x.Req.URL.Authority())
		}
	} else {
		h.Del("Host") // regenerated from the target (RFC 9112 §3.2.2)
	}

	// Max-Forwards on OPTIONS and TRACE (RFC 9110 §7.6.2).
	if r.IsMethod("OPTIONS") || r.IsMethod("TRACE") {
		if v := r.Header.Get("Max-Forwards"); v != nil {
			n, ok := wire.ParseDigits(wire.TrimOWS(v)) // Max-Forwards = 1*DIGIT
			if !ok {
				return 400, "invalid Max-Forwards"
			}
			if n == 0 {
				p.answerSelf(w, r)
				return -1, "max_forwards_zero"
			}
			h.Del("Max-Forwards")
			x.scratch = strconv.AppendInt(x.scratch[:0], n-1, 10)
			wire.Add(h, "Max-Forwards", x.scratch)
		}
	}

	wire.Add(h, "Via", p.via[min(int(r.Minor), 1)])
	if p.Reverse {
		p.addForwarded(r, x)
	}

	switch r.Framing {
	case wire.FramingLength:
		x.Req.SetBodyStream(r.Body(), r.ContentLength)
	case wire.FramingChunked:
		x.Req.SetBodyStream(r.Body(), -1)
		x.Req.Trailer = r.Trailer() // filled by the server when the body ends
	}
	if r.Expect100 {
		// 100 Continue is the upstream's to give: relayed from Got1xx.
		r.DisableAutoContinue()
	}
	x.w = w
	x.Req.Trace = &x.trace
	return 0, ""
}

var asteriskTarget = []byte("*")

// hasWebScheme reports whether an absolute-form target is an http or https URI (the
// server's parser checked the rest of its syntax).
func hasWebScheme(t []byte) bool {
	u := wire.SplitURI(t)
	return wire.EqualFold(u.Scheme, "http") || wire.EqualFold(u.Scheme, "https")
}

// addForwarded adds X-Forwarded-For, -Proto, -Host and Forwarded (RFC 7239). Values
// received from a trusted peer are kept and extended; from others they are replaced.
func (p *Proxy) addForwarded(r *server.Request, x *Exchange) {
	h := &x.Req.Header
	trusted := inAny(p.Trust, x.Client.Addr())
	ip := x.Client.Addr().Unmap()
	proto := "http"
	if r.TLS() != nil {
		proto = "https"
	}

	b := x.scratch[:0]
	if trusted {
		h.Values("X-Forwarded-For", func(v []byte) {
			if v = wire.TrimOWS(v); len(v) > 0 {
				b = append(append(b, v...), ", "...)
			}
		})
	}
	b = ip.AppendTo(b)
	h.Del("X-Forwarded-For")
	wire.Add(h, "X-Forwarded-For", b)

	if !trusted || !h.Has("X-Forwarded-Proto") {
		h.Del("X-Forwarded-Proto")
		wire.Add(h, "X-Forwarded-Proto", proto)
	}
	if !trusted || !h.Has("X-Forwarded-Host") {
		h.Del("X-Forwarded-Host")
		if len(r.Host) > 0 {
			wire.Add(h, "X-Forwarded-Host", r.Host)
		}
	}

	b = b[:0]
	if trusted {
		h.Values("Forwarded", func(v []byte) {
			if v = wire.TrimOWS(v); len(v) > 0 {
				b = append(append(b, v...), ", "...)
			}
		})
	}
	b = append(b, "for="...)
	if ip.Is6() {
		b = append(b, `"[`...)
		b = ip.AppendTo(b)
		b = append(b, `]"`...)
	} else {
		b = ip.AppendTo(b)
	}
	if len(r.Host) > 0 && wire.IsToken(r.Host) { // may stand unquoted
		b = append(b, ";host="...)
		b = append(b, r.Host...)
	} else if len(r.Host) > 0 {
		b = append(b, `;host="`...)
		b = append(b, r.Host...)
		b = append(b, '"')
	}
	b = append(b, ";proto="...)
	b = append(b, proto...)
	h.Del("Forwarded")
	wire.Add(h, "Forwarded", b)
	x.scratch = b
}

// answerSelf answers an OPTIONS or TRACE whose Max-Forwards reached 0.
func (p *Proxy) answerSelf(w *server.ResponseWriter, r *server.Request) {
	if r.IsMethod("OPTIONS") {
		w.Header().Add("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH, CONNECT")
		w.Header().Add("Via", p.via[1])
		w.SetContentLength(0)
		return
	}
	// TRACE: echo the request head as message/http, without credentials
	// (RFC 9110 §9.3.8).
	w.Header().Add("Content-Type", "message/http")
	w.Header().Add("Via", p.via[1])
	b := wire.AppendRequestLine(nil, r.Method, r.Target, r.Minor)
	for i := 0; i < r.Header.Len(); i++ {
		n, v := r.Header.At(i)
		if wire.EqualFold(n, "authorization") || wire.EqualFold(n, "proxy-authorization") || wire.EqualFold(n, "cookie") {
			continue
		}
		b = wire.AppendField(b, n, v)
	}
	b = append(b, '\r', '\n')
	w.Write(b)
}

// respond streams the upstream response to the client.
func (p *Proxy) respond(w *server.ResponseWriter, r *server.Request, x *Exchange, rec *record) {
	resp := &x.Resp
	if resp.Status == 101 {
		p.upgrade(w, x, rec)
		return
	}
	w.WriteHeader(resp.Status)
	wh := w.Header()
	rh := &resp.Header
	for i := 0; i < rh.Len(); i++ {
		n, v := rh.At(i)
		wire.Add(wh, n, v)
	}
	wire.Add(wh, "Via", p.via[min(int(resp.Minor), 1)])
	if len(x.trailerNames) > 0 && r.Minor >= 1 {
		// The trailers are forwarded, so is their announcement (the response is then
		// sent chunked).
		wire.Add(wh, "Trailer", x.trailerNames)
	}
	switch {
	case resp.Framing == wire.FramingLength:
		w.SetContentLength(resp.ContentLength)
	case resp.Framing == wire.FramingNone && r.IsMethod("HEAD") && resp.ContentLength >= 0:
		w.SetContentLength(resp.ContentLength)
	}
	if x.Body == nil || r.IsMethod("HEAD") || resp.Status == 204 || resp.Status == 304 {
		return // no body to send (x.Body is closed when the exchange is released)
	}
	if wt, ok := x.Body.(io.WriterTo); ok {
		// A body that writes itself: a cache entry in memory (one Write) or in a file
		// (sendfile through the ResponseWriter's ReadFrom). A failure mid-body is an
		// aborted message, as for a truncated upstream.
		if _, err := wt.WriteTo(w); err != nil {
			rec.err = err
			if w.Flush() != nil {
				// The client is gone: nothing more to send.
				rec.kind = "client_write_failed"
				return
			}
			rec.kind, rec.aborted = "upstream_truncated", true
			panic(server.ErrAbortHandler)
		}
		return
	}
	if x.copyBuf == nil {
		x.copyBuf = make([]byte, 32<<10)
	}
	buf := x.copyBuf
	// What was written goes out before a read that would wait (BodyWaiter): the head
	// as soon as the upstream pauses after it, each piece of a stream as it arrives.
	waiter, _ := x.Body.(BodyWaiter)
	unflushed := waiter != nil // the head, until it is sent
	for {
		if unflushed && (waiter == nil || waiter.ReadWaits()) {
			if w.Flush() != nil {
				rec.kind = "client_write_failed"
				return
			}
			unflushed = false
		}
		n, err := x.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				// The client is gone (or the framing broke): stop; closing the body
				// drains or drops the upstream connection.
				rec.kind = "client_write_failed"
				return
			}
			unflushed = true
		}
		if err == io.EOF {
			// The body ended whole: its trailer fields follow it (the server drops
			// what cannot be sent: to HTTP/1.0 clients, fields forbidden in trailers).
			if t := &resp.Trailer; t.Len() > 0 {
				wt := w.Trailer()
				for i := 0; i < t.Len(); i++ {
					n, v := t.At(i)
					wire.Add(wt, n, v)
				}
			}
			return
		}
		if err != nil {
			// The upstream body ended early: the client must see an aborted message,
			// never a complete one. Send what arrived, then close without the end of
			// the framing (the rest of Content-Length, or the last chunk).
			rec.kind, rec.err, rec.aborted = "upstream_truncated", err, true
			w.Flush()
			panic(server.ErrAbortHandler)
		}
	}
}

// answer writes a short plain-text response generated by the proxy itself; kind, when
// set, goes into a Proxy-Status field (RFC 9209).
func (p *Proxy) answer(w *server.ResponseWriter, status int, kind, msg string) {
	w.WriteHeader(status)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if kind != "" {
		b := append([]byte(p.status), kind...)
		wire.Add(h, "Proxy-Status", b)
	}
	w.WriteString(msg)
	w.WriteString("\n")
}

func errorText(status int) string {
	switch status {
	case 502:
		return "bad gateway: the upstream could not be reached or answered badly"
	case 503:
		return "service unavailable: connection limit to the upstream reached"
	case 504:
		return "gateway timeout: the upstream did not answer in time"
	}
	return wire.StatusText(status)
}

// finish logs the request and updates the metrics; pv is the handler's panic, if any
// (the caller passes it on).
func (p *Proxy) finish(w *server.ResponseWriter, r *server.Request, x *Exchange, rec *record, pv any) {
	if pv != nil && pv != server.ErrAbortHandler {
		rec.kind = "panic"
	}
	if pv == server.ErrAbortHandler {
		rec.aborted = true
	}
	d := time.Since(rec.start)
	if p.Metrics != nil {
		p.Metrics.observe(w.Status(), d, x, rec)
	}
	if p.AccessLog != nil {
		p.log(w, r, x, rec, d)
	}
}

func (p *Proxy) log(w *server.ResponseWriter, r *server.Request, x *Exchange, rec *record, d time.Duration) {
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.Uint64("conn", r.ConnID()),
		slog.Int("req", r.ConnRequests()),
		slog.String("remote", x.Client.String()),
		slog.String("method", string(r.Method)),
		slog.String("target", string(r.Target)),
		slog.Int("status", w.Status()),
		slog.Int64("bytes", w.Written()),
		slog.Float64("ms", float64(d.Microseconds())/1000),
	)
	if up := x.Upstream; up.Name != "" {
		attrs = append(attrs, slog.String("up", up.Name))
		if up.ConnID != 0 {
			attrs = append(attrs,
				slog.Uint64("up_conn", up.ConnID),
				slog.Bool("up_reused", up.Reused),
				slog.Float64("up_ms", float64(up.Head.Microseconds())/1000))
		}
		if up.Retries > 0 {
			attrs = append(attrs, slog.Int("retries", up.Retries))
		}
	}
	if rec.tunnel {
		attrs = append(attrs, slog.Int64("tunnel_up", rec.tunnelStats.Up), slog.Int64("tunnel_down", rec.tunnelStats.Down))
	}
	if rec.kind != "" {
		attrs = append(attrs, slog.String("error", rec.kind))
	}
	if rec.err != nil {
		attrs = append(attrs, slog.String("cause", rec.err.Error()))
	}
	if rec.aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	p.AccessLog.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}
