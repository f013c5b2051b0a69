package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hop-http/hop/wire"
)

// FromHTTP returns a Handler that serves h, a net/http Handler, so existing routers and
// middleware run on hop unchanged. Each request is converted to an *http.Request in
// four allocations (net/http's own server makes about 18), none of them reused, so a
// handler may keep what it was given; the body streams from the connection, the
// request context is cancelled when ServeHTTP returns or, once something waits on it,
// when the client goes away, and the ResponseWriter
// implements http.Flusher and http.Hijacker (through ResponseWriter.TakeOver).
// A panic with http.ErrAbortHandler is ErrAbortHandler here: the connection is closed
// without a log entry (httputil.ReverseProxy aborts a response that way).
// WriteHeader with a 1xx code sends an interim response at once (as net/http does
// since Go 1.19), and trailers work as in net/http: values set after the head for the
// names announced in the Trailer field, and fields named with http.TrailerPrefix. A
// chunked request's trailers reach Request.Trailer as under net/http: the announced
// names while the body is read, their values once Body has returned io.EOF.
func FromHTTP(h http.Handler) Handler { return httpAdapter{h} }

type httpAdapter struct{ h http.Handler }

var adapterPool = sync.Pool{New: func() any {
	return &httpResponseWriter{header: make(http.Header)}
}}

func (a httpAdapter) ServeHOP(w *ResponseWriter, r *Request) {
	hr, ar, err := toHTTPRequest(r)
	if err != nil {
		w.WriteHeader(400)
		w.WriteString("bad request target\n")
		return
	}
	rw := adapterPool.Get().(*httpResponseWriter)
	rw.w, rw.ctx = w, &ar.ctx
	rw.wroteHeader, rw.hijacked = false, false
	defer func() {
		ar.ctx.finish()
		rw.w, rw.ctx = nil, nil
		clear(rw.header)
		adapterPool.Put(rw)
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				p = ErrAbortHandler // net/http's abort: close quietly, as net/http does
			}
			panic(p)
		}
	}()
	a.h.ServeHTTP(rw, hr)
	if !rw.hijacked {
		rw.ctx.lockIO()
		rw.writeHeader(200)
		rw.trailers()
		rw.ctx.unlockIO()
	}
}

// adapterReq is the one allocation of a request through the adapter besides the
// *http.Request (which WithContext allocates) and its Header map: the context, the
// URL, the body reader, the Header's value slices and, when they fit, the bytes of the
// target and the field values, which the request's strings point into. Nothing in it
// is reused: a handler may keep the request, its fields and its context after it
// returns, as net/http allows.
type adapterReq struct {
	ctx  adapterCtx
	url  url.URL
	body adapterBody
	hreq *http.Request // the request the handler gets, for its Trailer at the body's end
	// trailerDone: the trailer fields were copied into hreq.Trailer.
	trailerDone bool
	vals        [16]string
	text        [512]byte
}

// toHTTPRequest builds a net/http request from the hop view in four allocations (the
// http.Request, its Header map in two, and an adapterReq) for a request with up to 16
// fields and up to 512 bytes of target and values; common methods and field names are
// interned and the remote address is formatted once per connection.
func toHTTPRequest(r *Request) (*http.Request, *adapterReq, error) {
	ar := new(adapterReq)
	n := r.Header.Len()
	size := len(r.Target)
	for i := 0; i < n; i++ {
		_, v := r.Header.At(i)
		size += len(v)
	}
	text := ar.text[:0]
	if size > len(ar.text) {
		text = make([]byte, 0, size)
	}
	text = append(text, r.Target...)
	for i := 0; i < n; i++ {
		_, v := r.Header.At(i)
		text = append(text, v...)
	}
	// The bytes are never written again: strings over them are immutable.
	all := unsafe.String(unsafe.SliceData(text), len(text))
	target := all[:len(r.Target)]
	u := &ar.url
	if r.IsMethod("CONNECT") {
		u.Host = target
	} else if err := parseRequestURI(target, u); err != nil {
		return nil, nil, err
	}
	vals := ar.vals[:]
	if n > len(vals) {
		vals = make([]string, n)
	}
	hdr := make(http.Header, n)
	host := ""
	off := len(target)
	for i := 0; i < n; i++ {
		name, v := r.Header.At(i)
		val := all[off : off+len(v)]
		off += len(v)
		key := canonicalKey(name)
		if key == "Host" {
			host = val
			continue
		}
		if old, ok := hdr[key]; ok {
			hdr[key] = append(old, val)
			continue
		}
		vals[i] = val
		hdr[key] = vals[i : i+1 : i+1]
	}
	hr := http.Request{
		Method:     internMethod(r.Method),
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: int(r.Minor),
		Header:     hdr,
		Host:       host,
		RemoteAddr: r.c.remoteString(),
		RequestURI: target,
		TLS:        r.TLS(),
		Close:      !r.KeepAlive,
	}
	if r.Minor == 0 {
		hr.Proto = "HTTP/1.0"
	}
	if u.Host != "" {
		// An absolute-form or CONNECT target carries the authority, and the Host field
		// is then ignored (RFC 9112 §3.2.2), as net/http does: routing on r.Host must
		// see the authority the request was judged by.
		hr.Host = u.Host
	}
	ar.body = adapterBody{ar}
	switch r.Framing {
	case wire.FramingNone:
		hr.Body = http.NoBody
	case wire.FramingChunked:
		hr.ContentLength = -1
		hr.TransferEncoding = chunkedCoding
		hr.Body = &ar.body
		hr.Trailer = declaredTrailer(hdr)
	default:
		hr.ContentLength = r.ContentLength
		hr.Body = &ar.body
	}
	ar.ctx.r = r
	ar.hreq = hr.WithContext(&ar.ctx)
	return ar.hreq, ar, nil
}

// declaredTrailer moves the Trailer field of a chunked request into the keys of a
// trailer map with nil values, as net/http does: the handler sees which trailers the
// client announced, and their values once the body has been read to its end. Names
// that must not be trailers are left out. nil when nothing is announced.
func declaredTrailer(hdr http.Header) http.Header {
	decl, ok := hdr["Trailer"]
	if !ok {
		return nil
	}
	delete(hdr, "Trailer")
	var t http.Header
	for _, v := range decl {
		wire.ForEachToken([]byte(v), func(name []byte) bool {
			if !wire.ProhibitedTrailer(name) {
				if t == nil {
					t = make(http.Header)
				}
				t[canonicalKey(name)] = nil
			}
			return true
		})
	}
	return t
}

// fillTrailer copies the trailer fields that came with the end of a chunked body
// into the handler's Request.Trailer (the chunked decoder has already dropped the
// prohibited ones), as net/http does after Body returns io.EOF.
func (ar *adapterReq) fillTrailer() {
	tr := ar.ctx.r.Trailer()
	if tr.Len() == 0 {
		return
	}
	hr := ar.hreq
	if hr.Trailer == nil {
		hr.Trailer = make(http.Header, tr.Len())
	}
	for i := 0; i < tr.Len(); i++ {
		name, v := tr.At(i)
		key := canonicalKey(name)
		hr.Trailer[key] = append(hr.Trailer[key], string(v))
	}
}

// chunkedCoding is the TransferEncoding of every chunked request (handlers must not
// modify the request).
var chunkedCoding = []string{"chunked"}

// parseRequestURI is url.ParseRequestURI into u. The common target — an absolute path
// of characters the URL package would not escape, and a query — is split without
// allocating, into the URL that url.ParseRequestURI would return (a test holds the
// two to the same answers); anything else is left to url.ParseRequestURI.
func parseRequestURI(target string, u *url.URL) error {
	if path, ok := plainPath(target); ok {
		u.Path = path
		if len(path) < len(target) {
			if q := target[len(path)+1:]; q == "" {
				u.ForceQuery = true
			} else {
				u.RawQuery = q
			}
		}
		return nil
	}
	pu, err := url.ParseRequestURI(target)
	if err != nil {
		return err
	}
	*u = *pu
	return nil
}

// plainPath returns the path part of target (up to the first '?') when target is an
// absolute path whose every byte url.URL keeps unescaped in a path (letters, digits,
// "-_.~$&+,/:;=@"), with a query part free of control bytes and of a second '?' in
// "path??" form; ok is false otherwise.
func plainPath(target string) (path string, ok bool) {
	if len(target) == 0 || target[0] != '/' {
		return "", false
	}
	i := 0
	for ; i < len(target); i++ {
		c := target[i]
		if c == '?' {
			break
		}
		if !pathByte[c] {
			return "", false
		}
	}
	for j := i + 1; j < len(target); j++ {
		if c := target[j]; c < 0x20 || c == 0x7f || (c == '?' && j == len(target)-1) {
			return "", false // a control byte (an error), or "?...?" at the end (ForceQuery rules)
		}
	}
	return target[:i], true
}

// pathByte marks the bytes url.URL leaves unescaped in a path.
var pathByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()

// adapterCtx is the context of a request through the adapter. It is cancelled when
// ServeHTTP returns, as net/http's is, and, once something asks for Done, when the
// client goes away (hop's connection watch, as with Request.Context): a handler that
// never waits on its context costs nothing for it.
//
// Done may come from any goroutine, while the handler writes or reads the body on its
// own; the watch must not start in the middle of those. The handler's calls into the
// connection (writes, body reads, hijacking) hold io, and the watch starts under io
// too: at once when io is free, else when the call holding it ends (lockIO and
// unlockIO). Done itself never waits for I/O.
type adapterCtx struct {
	io        sync.Mutex  // held by the handler's calls into the connection
	wantWatch atomic.Bool // Done asked for the watch; whoever holds io next starts it

	mu   sync.Mutex // guards the fields below, never held across I/O
	r    *Request   // while the handler runs; nil after
	done <-chan struct{}
	ctx  context.Context // the cancelable context, made at the first Done
	end  bool            // ServeHTTP returned
}

func (c *adapterCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done returns a channel closed when the request ends or the client goes away.
func (c *adapterCtx) Done() <-chan struct{} {
	c.mu.Lock()
	if c.done != nil {
		c.mu.Unlock()
		return c.done
	}
	if c.end {
		c.mu.Unlock()
		return closedChan
	}
	r := c.r
	r.ctx, r.cancel = context.WithCancel(context.Background())
	c.ctx, c.done = r.ctx, r.ctx.Done()
	c.mu.Unlock()
	c.wantWatch.Store(true)
	if c.io.TryLock() {
		c.unlockIO()
	}
	return c.done
}

// lockIO and unlockIO bracket the handler's calls into the connection; unlockIO starts
// the watch a Done asked for meanwhile.
func (c *adapterCtx) lockIO() { c.io.Lock() }

func (c *adapterCtx) unlockIO() {
	for {
		if c.wantWatch.CompareAndSwap(true, false) {
			c.mu.Lock()
			r, end := c.r, c.end
			c.mu.Unlock()
			if !end && r.body.eof {
				r.c.startWatch()
			}
		}
		c.io.Unlock()
		// A Done that found io held left the watch to us: look again.
		if !c.wantWatch.Load() || !c.io.TryLock() {
			return
		}
	}
}

// Err returns context.Canceled once Done is closed.
func (c *adapterCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil {
		return c.ctx.Err()
	}
	if c.end {
		return context.Canceled
	}
	return nil
}

// Value returns the connection's local address for http.LocalAddrContextKey, as
// net/http's request context does, while the handler runs.
func (c *adapterCtx) Value(key any) any {
	if key != http.LocalAddrContextKey {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.end {
		return nil
	}
	return c.r.LocalAddr()
}

// AfterFunc lets contexts derived from this one (context.WithCancel and the others)
// register their cancellation without a goroutine each (see context.AfterFunc).
func (c *adapterCtx) AfterFunc(f func()) func() bool {
	c.Done()
	c.mu.Lock()
	ctx := c.ctx
	c.mu.Unlock()
	if ctx == nil {
		ctx = endedCtx
	}
	return context.AfterFunc(ctx, f)
}

// finish ends the context: ServeHTTP returned. The connection's goroutine then stops
// a watch that started.
func (c *adapterCtx) finish() {
	c.io.Lock()
	c.wantWatch.Store(false)
	c.mu.Lock()
	if c.ctx != nil {
		c.r.cancel()
	}
	c.r, c.end = nil, true
	c.mu.Unlock()
	c.io.Unlock()
}

func (c *adapterCtx) String() string { return "hop.FromHTTP request context" }

var (
	closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()
	endedCtx   = func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}()
)

// adapterBody is the request body as net/http sees it: hop's body, read under the
// context's lock.
type adapterBody struct{ ar *adapterReq }

func (b *adapterBody) Read(p []byte) (int, error) {
	c := &b.ar.ctx
	c.lockIO()
	defer c.unlockIO()
	if c.end {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := c.r.body.Read(p)
	if err == io.EOF && c.r.Framing == wire.FramingChunked && !b.ar.trailerDone {
		b.ar.trailerDone = true
		b.ar.fillTrailer()
	}
	return n, err
}

func (b *adapterBody) Close() error { return nil }

var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"}

// internMethod returns m as a string, without allocating for the standard methods.
func internMethod(m []byte) string {
	for _, s := range methods {
		if string(m) == s {
			return s
		}
	}
	return string(m)
}

// commonKeys are canonical names of frequent request fields, returned without
// allocating.
var commonKeys = [...]string{
	"Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Connection",
	"Content-Length", "Content-Type", "Cookie", "Referer", "Cache-Control", "Authorization",
	"Origin", "Range", "If-None-Match", "If-Modified-Since", "Upgrade-Insecure-Requests",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Requested-With", "Pragma", "Priority",
	"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Dnt", "Te",
	"Expect", "Transfer-Encoding", "Idempotency-Key", "Traceparent",
}

// canonicalKey returns the canonical MIME form of a field name.
func canonicalKey(name []byte) string {
	for _, k := range commonKeys {
		if len(k) == len(name) && wire.EqualFold(name, k) {
			return k
		}
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}

// httpResponseWriter implements http.ResponseWriter, http.Flusher and http.Hijacker
// over a hop ResponseWriter.
type httpResponseWriter struct {
	w           *ResponseWriter
	ctx         *adapterCtx // its io lock brackets every call into w
	header      http.Header
	wroteHeader bool
	hijacked    bool
}

func (rw *httpResponseWriter) Header() http.Header { return rw.header }

func (rw *httpResponseWriter) WriteHeader(code int) {
	rw.ctx.lockIO()
	defer rw.ctx.unlockIO()
	rw.writeHeader(code)
}

func (rw *httpResponseWriter) writeHeader(code int) {
	if rw.wroteHeader || rw.hijacked {
		return
	}
	if code >= 100 && code < 200 && code != 101 {
		rw.copyHeader() // an interim response carries the fields set so far
		rw.w.WriteHeader(code)
		return
	}
	rw.wroteHeader = true
	rw.copyHeader()
	rw.w.WriteHeader(code)
}

// copyHeader makes the hop header a copy of the net/http one, less the fields named
// with http.TrailerPrefix (trailers). Invalid names and values are dropped when the
// head is written.
func (rw *httpResponseWriter) copyHeader() {
	h := rw.w.Header()
	h.Reset()
	for k, vs := range rw.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}

// trailers moves net/http's trailers into the hop trailer: the values of the names
// announced in the Trailer field, and the fields named with http.TrailerPrefix.
func (rw *httpResponseWriter) trailers() {
	t := rw.w.Trailer()
	for _, decl := range rw.header["Trailer"] {
		for _, name := range strings.Split(decl, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			for _, v := range rw.header[name] {
				t.Add(name, v)
			}
		}
	}
	for k, vs := range rw.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vs {
				t.Add(name, v)
			}
		}
	}
}

func (rw *httpResponseWriter) Write(p []byte) (int, error) {
	rw.ctx.lockIO()
	defer rw.ctx.unlockIO()
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	rw.writeHeader(200)
	return rw.w.Write(p)
}

func (rw *httpResponseWriter) WriteString(s string) (int, error) {
	rw.ctx.lockIO()
	defer rw.ctx.unlockIO()
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	rw.writeHeader(200)
	return rw.w.WriteString(s)
}

func (rw *httpResponseWriter) Flush() { rw.FlushError() }

// FlushError implements the interface http.ResponseController uses.
func (rw *httpResponseWriter) FlushError() error {
	rw.ctx.lockIO()
	defer rw.ctx.unlockIO()
	if rw.hijacked {
		return http.ErrHijacked
	}
	rw.writeHeader(200)
	return rw.w.Flush()
}

// Hijack takes the connection over (ResponseWriter.TakeOver): after WriteHeader(101),
// or a 2xx to CONNECT, that head is sent first; without WriteHeader nothing is. The
// bytes the server had read past the request are buffered in the returned reader.
func (rw *httpResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rw.ctx.lockIO()
	defer rw.ctx.unlockIO()
	if rw.hijacked {
		return nil, nil, http.ErrHijacked
	}
	nc, rest, err := rw.w.TakeOver()
	if err != nil {
		return nil, nil, err
	}
	rw.hijacked = true
	var br *bufio.Reader
	if len(rest) > 0 {
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(rest), nc), max(len(rest), 4096))
		br.Peek(len(rest)) // so that Buffered reports them, as after net/http's Hijack
	} else {
		br = bufio.NewReader(nc)
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriter(nc)), nil
}
