package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"

	"github.com/hop-http/hop/wire"
)

// FromHTTP returns a Handler that serves h, a net/http Handler, so existing routers and
// middleware run on hop unchanged. Each request is converted to an *http.Request (with
// the usual allocations of net/http); the body streams from the connection, the
// request context is cancelled when the client goes away, and the ResponseWriter
// implements http.Flusher and http.Hijacker (through ResponseWriter.TakeOver).
// WriteHeader with a 1xx code sends an interim response at once (as net/http does
// since Go 1.19), and trailers work as in net/http: values set after the head for the
// names announced in the Trailer field, and fields named with http.TrailerPrefix.
func FromHTTP(h http.Handler) Handler { return httpAdapter{h} }

type httpAdapter struct{ h http.Handler }

var adapterPool = sync.Pool{New: func() any {
	return &httpResponseWriter{header: make(http.Header)}
}}

func (a httpAdapter) ServeHOP(w *ResponseWriter, r *Request) {
	hr, err := toHTTPRequest(r)
	if err != nil {
		w.WriteHeader(400)
		w.WriteString("bad request target\n")
		return
	}
	rw := adapterPool.Get().(*httpResponseWriter)
	rw.w = w
	rw.wroteHeader, rw.hijacked = false, false
	defer func() {
		rw.w = nil
		clear(rw.header)
		adapterPool.Put(rw)
	}()
	a.h.ServeHTTP(rw, hr)
	if !rw.hijacked {
		rw.WriteHeader(200)
		rw.trailers()
	}
}

// toHTTPRequest builds a net/http request from the hop view. Strings are copied, but
// in bulk: all field values share one string and one []string backing array, common
// methods and field names are interned, and the remote address is formatted once per
// connection.
func toHTTPRequest(r *Request) (*http.Request, error) {
	target := string(r.Target)
	var u *url.URL
	var err error
	if r.IsMethod("CONNECT") {
		u = &url.URL{Host: target}
	} else {
		u, err = url.ParseRequestURI(target)
		if err != nil {
			return nil, err
		}
	}
	n := r.Header.Len()
	size := 0
	for i := 0; i < n; i++ {
		_, v := r.Header.At(i)
		size += len(v)
	}
	var sb strings.Builder
	sb.Grow(size)
	for i := 0; i < n; i++ {
		_, v := r.Header.At(i)
		sb.Write(v)
	}
	all := sb.String()
	vals := make([]string, n)
	hdr := make(http.Header, n)
	host := ""
	off := 0
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
	if hr.Host == "" {
		hr.Host = u.Host
	}
	switch r.Framing {
	case wire.FramingNone:
		hr.Body = http.NoBody
	case wire.FramingChunked:
		hr.ContentLength = -1
		hr.TransferEncoding = []string{"chunked"}
		hr.Body = bodyCloser{&r.body}
	default:
		hr.ContentLength = r.ContentLength
		hr.Body = bodyCloser{&r.body}
	}
	return hr.WithContext(r.Context()), nil
}

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

type bodyCloser struct{ io.Reader }

func (bodyCloser) Close() error { return nil }

// httpResponseWriter implements http.ResponseWriter, http.Flusher and http.Hijacker
// over a hop ResponseWriter.
type httpResponseWriter struct {
	w           *ResponseWriter
	header      http.Header
	wroteHeader bool
	hijacked    bool
}

func (rw *httpResponseWriter) Header() http.Header { return rw.header }

func (rw *httpResponseWriter) WriteHeader(code int) {
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
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	rw.WriteHeader(200)
	return rw.w.Write(p)
}

func (rw *httpResponseWriter) WriteString(s string) (int, error) {
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	rw.WriteHeader(200)
	return rw.w.WriteString(s)
}

func (rw *httpResponseWriter) Flush() { rw.FlushError() }

// FlushError implements the interface http.ResponseController uses.
func (rw *httpResponseWriter) FlushError() error {
	if rw.hijacked {
		return http.ErrHijacked
	}
	rw.WriteHeader(200)
	return rw.w.Flush()
}

// Hijack takes the connection over (ResponseWriter.TakeOver): after WriteHeader(101),
// or a 2xx to CONNECT, that head is sent first; without WriteHeader nothing is. The
// bytes the server had read past the request are buffered in the returned reader.
func (rw *httpResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
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
