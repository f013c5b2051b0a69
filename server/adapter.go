package server

import (
	"bufio"
	"fmt"
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
// implements http.Flusher. Hijacking and 1xx informational responses other than the
// automatic 100 Continue are not supported.
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
	rw.wroteHeader = false
	defer func() {
		rw.w = nil
		clear(rw.header)
		adapterPool.Put(rw)
	}()
	a.h.ServeHTTP(rw, hr)
	rw.WriteHeader(200)
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

// httpResponseWriter implements http.ResponseWriter and http.Flusher over a hop
// ResponseWriter.
type httpResponseWriter struct {
	w           *ResponseWriter
	header      http.Header
	wroteHeader bool
}

func (rw *httpResponseWriter) Header() http.Header { return rw.header }

func (rw *httpResponseWriter) WriteHeader(code int) {
	if rw.wroteHeader {
		return
	}
	if code < 200 && code >= 100 {
		return // informational responses are not forwarded
	}
	rw.wroteHeader = true
	h := rw.w.Header()
	for k, vs := range rw.header {
		for _, v := range vs {
			h.Add(k, v) // invalid names and values are dropped when the head is written
		}
	}
	rw.w.WriteHeader(code)
}

func (rw *httpResponseWriter) Write(p []byte) (int, error) {
	rw.WriteHeader(200)
	return rw.w.Write(p)
}

func (rw *httpResponseWriter) WriteString(s string) (int, error) {
	rw.WriteHeader(200)
	return rw.w.WriteString(s)
}

func (rw *httpResponseWriter) Flush() {
	rw.WriteHeader(200)
	rw.w.Flush()
}

// FlushError implements the interface http.ResponseController uses.
func (rw *httpResponseWriter) FlushError() error {
	rw.WriteHeader(200)
	return rw.w.Flush()
}

// Hijack reports that hijacking is not supported.
func (rw *httpResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, fmt.Errorf("hop/server: Hijack is not supported: %w", http.ErrNotSupported)
}
