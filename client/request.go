package client

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/hop-http/hop/wire"
)

// Request is an HTTP request for [Client.Do]. A Request may be reused for many calls
// (call [Request.Reset] between unrelated requests); it must not be used by two calls
// at the same time.
//
// The client manages the framing and connection fields itself: Host (from the URL,
// unless Header sets one), Content-Length, Transfer-Encoding and Connection. Those in
// Header are ignored, except that a Connection field naming "close" acts like Close;
// a request with an Upgrade field is sent with Connection: upgrade.
//
// A proxy forwards a request parsed by its server without copying it: the method
// through [Method], the request-target in Target, the fields with [Request.UseHeader],
// the body with [Request.SetBodyStream] and the trailer fields in Trailer.
type Request struct {
	// Method is the request method; "" means GET.
	Method string
	// URL is the target: it chooses the connection (scheme, host, port), and the
	// request-target and Host field unless Target and Header give them. Set it with
	// [Request.SetURL] or [URL.Set].
	URL URL
	// Target, if set, is sent as the request-target instead of the one made from URL
	// (origin form, or absolute form through an HTTP proxy). It is not copied and must
	// not change until the call returns. A CONNECT request is sent to URL's origin,
	// never through Client.Proxy, with Target (authority form, "host:port") or else
	// URL's authority as its target.
	Target []byte
	// Header holds the request's fields, in order (see also [Request.UseHeader]).
	Header wire.Header
	// Trailer, if set, holds fields sent after the body, in the trailer section of
	// the chunked coding: a request with a body and a Trailer is sent chunked (HTTP/1.1
	// only), its body read to the end. Trailer is read once the body has been read to
	// its end, so the body's producer may fill it as the body ends (a proxy points it
	// at the trailer its server decodes). Fields that frame, route or control the
	// message (Content-Length, Transfer-Encoding, Host, Trailer, TE and the
	// hop-by-hop fields) are not sent there; an invalid field fails the request.
	Trailer *wire.Header

	// Close asks the server to close the connection after the response
	// (Connection: close); the connection is not reused either way.
	Close bool
	// HTTP10 sends the request as HTTP/1.0 (with Connection: keep-alive unless Close).
	HTTP10 bool

	// GetBody, if set, returns a fresh copy of a streamed body, so that the request can
	// be retried or redirected with its body (307/308). Bodies set with SetBody need
	// none.
	GetBody func() (io.Reader, error)

	// Timeout bounds the whole exchange, from asking for a connection to the end of
	// the body; 0 means Client.Timeout, negative means none (whatever Client.Timeout).
	Timeout time.Duration
	// Ctx, if set, cancels the exchange when done; nil means no cancellation.
	Ctx context.Context
	// Trace, if set, receives the events of this request (see [Trace]); Client.Trace
	// is used when nil.
	Trace *Trace

	header     *wire.Header // UseHeader's table, nil for Header
	body       []byte       // SetBody (the caller's slice) or ownBody
	ownBody    []byte       // storage of SetBodyString, reused
	bodyStream io.Reader    // SetBodyStream
	bodyLen    int64        // length of bodyStream, -1 unknown
	hasBody    bool
}

// Reset clears r for reuse, keeping its storage.
func (r *Request) Reset() {
	h, own := r.Header, r.ownBody[:0]
	h.Reset()
	*r = Request{Header: h, ownBody: own}
}

// UseHeader makes r send the fields of h instead of those of r.Header, without
// copying them: a proxy forwards the fields its server parsed this way (after
// removing the hop-by-hop ones). h must not change until the call returns; nil goes
// back to r.Header. Reset forgets h.
func (r *Request) UseHeader(h *wire.Header) { r.header = h }

// Fields returns the fields r sends: the table given to UseHeader, else &r.Header.
func (r *Request) Fields() *wire.Header {
	if r.header != nil {
		return r.header
	}
	return &r.Header
}

// Method returns m as a string without allocating for the standard methods (RFC
// 9110 §9 and PATCH); other methods are copied. It turns a method parsed by wire into
// a Request's Method.
func Method(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "CONNECT":
		return "CONNECT"
	case "OPTIONS":
		return "OPTIONS"
	case "TRACE":
		return "TRACE"
	case "PATCH":
		return "PATCH"
	}
	return string(m)
}

// SetURL parses s into r.URL (see [ParseURL]).
func (r *Request) SetURL(s string) error { return r.URL.Set(s) }

// SetBody sets a body held in memory; it is sent with Content-Length. The slice is
// not copied and must not change until the call returns.
func (r *Request) SetBody(b []byte) {
	r.body, r.bodyStream, r.bodyLen, r.hasBody = b, nil, int64(len(b)), true
}

// SetBodyString is SetBody for a string (copied into r's own buffer).
func (r *Request) SetBodyString(s string) {
	r.ownBody = append(r.ownBody[:0], s...)
	r.body, r.bodyStream, r.bodyLen, r.hasBody = r.ownBody, nil, int64(len(s)), true
}

// SetBodyStream sets a streamed body of size bytes, sent with Content-Length; a
// negative size means unknown, sent chunked (HTTP/1.1 only). Without GetBody a
// streamed body cannot be re-sent, so a request whose body was partly read is never
// retried.
func (r *Request) SetBodyStream(body io.Reader, size int64) {
	r.body, r.bodyStream, r.bodyLen, r.hasBody = nil, body, size, body != nil
	if size < 0 {
		r.bodyLen = -1
	}
}

// ClearBody removes the body.
func (r *Request) ClearBody() {
	r.body, r.bodyStream, r.bodyLen, r.hasBody = nil, nil, 0, false
}

// BodyStream returns the streamed body set with SetBodyStream, or nil.
func (r *Request) BodyStream() io.Reader { return r.bodyStream }

// HasBody reports whether a body is set (possibly empty).
func (r *Request) HasBody() bool { return r.hasBody }

// ContentLength returns the body length sent in Content-Length, -1 when the body is
// sent chunked (its length is unknown, or a Trailer is set), 0 without body.
func (r *Request) ContentLength() int64 {
	if !r.hasBody {
		return 0
	}
	if r.Trailer != nil {
		return -1
	}
	return r.bodyLen
}

func (r *Request) method() string {
	if r.Method == "" {
		return "GET"
	}
	return r.Method
}

// Idempotent reports whether the request may be sent again after a failure: its
// method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE, RFC 9110 §9.2.2) or it
// carries an Idempotency-Key field.
func (r *Request) Idempotent() bool {
	switch r.method() {
	case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE":
		return true
	}
	return r.Fields().Has("Idempotency-Key")
}

// upgrading reports whether the response may switch the connection to another
// protocol: the request asks to (an Upgrade field), or is a CONNECT.
func (r *Request) upgrading() bool {
	return r.method() == "CONNECT" || r.Fields().Has("Upgrade")
}

// bodyCursor tracks the body of one attempt: it knows whether the body can be sent
// again.
type bodyCursor struct {
	stream   io.Reader
	consumed bool // bytes were read from a stream that cannot be rewound
}

// rewind prepares the body for another attempt; it reports false when that is
// impossible.
func (r *Request) rewind(cur *bodyCursor) bool {
	if !r.hasBody || r.bodyStream == nil {
		return true
	}
	if !cur.consumed {
		return true
	}
	if r.GetBody == nil {
		return false
	}
	b, err := r.GetBody()
	if err != nil || b == nil {
		return false
	}
	r.bodyStream = b
	cur.consumed = false
	return true
}

// appendTarget appends the request-target: Target when set, else the origin form, or
// the absolute form through an HTTP proxy, or the authority form for CONNECT.
func (r *Request) appendTarget(dst []byte, absolute bool) []byte {
	switch {
	case r.Target != nil:
		return append(dst, r.Target...)
	case r.method() == "CONNECT":
		return append(dst, r.URL.authority...)
	case absolute:
		return r.URL.AppendAbsolute(dst)
	}
	return r.URL.AppendRequestURI(dst)
}

// appendHead serializes the request head (validated before) with the request-target
// target (see appendTarget). It returns the head and whether the request asks to close.
func (r *Request) appendHead(dst, target []byte, proxyAuth string, length int64) ([]byte, bool) {
	minor := uint8(1)
	if r.HTTP10 {
		minor = 0
	}
	dst = wire.AppendRequestLine(dst, r.method(), target, minor)
	closing := r.Close
	upgrade := false
	h := r.Fields()
	if !h.Has("Host") {
		dst = wire.AppendField(dst, "Host", r.URL.authority)
	}
	for i := 0; i < h.Len(); i++ {
		name, value := h.At(i)
		if len(name) == 7 && wire.EqualFold(name, "upgrade") {
			upgrade = true
		}
		if wire.IsConnectionManaged(name) {
			if wire.EqualFold(name, "connection") && containsToken(value, "close") {
				closing = true
			}
			continue
		}
		dst = wire.AppendField(dst, name, value)
	}
	if proxyAuth != "" && !h.Has("Proxy-Authorization") {
		dst = wire.AppendField(dst, "Proxy-Authorization", proxyAuth)
	}
	if r.hasBody {
		if length >= 0 {
			dst = wire.AppendIntField(dst, "Content-Length", length)
		} else {
			dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
		}
	} else if m := r.method(); m == "POST" || m == "PUT" || m == "PATCH" {
		// RFC 9110 §8.6: a user agent should send Content-Length when the method
		// defines a meaning for the content and none is sent.
		dst = append(dst, "Content-Length: 0\r\n"...)
	}
	switch {
	case closing && upgrade:
		dst = append(dst, "Connection: upgrade, close\r\n"...)
	case closing:
		dst = append(dst, "Connection: close\r\n"...)
	case upgrade:
		dst = append(dst, "Connection: upgrade\r\n"...)
	case minor == 0:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, '\r', '\n'), closing
}

// appendBody appends an in-memory body as it is sent: as is, or as one chunk and the
// last chunk with the trailer when the request is sent chunked.
func (r *Request) appendBody(dst []byte, length int64) ([]byte, error) {
	if length >= 0 {
		return append(dst, r.body...), nil
	}
	dst = wire.AppendChunk(dst, r.body)
	return appendLastChunk(dst, r.Trailer)
}

// appendLastChunk appends the last chunk, the trailer fields of t (nil: none) that may
// be sent there, and the final CRLF. An invalid field is an error: nothing may be sent
// that the head would have refused.
func appendLastChunk(dst []byte, t *wire.Header) ([]byte, error) {
	dst = append(dst, '0', '\r', '\n')
	if t != nil {
		if err := checkTrailer(t); err != nil {
			return dst, err
		}
		for i := 0; i < t.Len(); i++ {
			if name, value := t.At(i); allowedInTrailer(name) {
				dst = wire.AppendField(dst, name, value)
			}
		}
	}
	return append(dst, '\r', '\n'), nil
}

// checkTrailer fails for a trailer field that could not be sent: an invalid name, or
// a value with CR, LF, NUL or another control character.
func checkTrailer(t *wire.Header) error {
	for i := 0; i < t.Len(); i++ {
		name, value := t.At(i)
		if !wire.IsToken(name) || !wire.ValidFieldValue(value) {
			return errors.New("hop/client: invalid trailer field " + quote(string(name)))
		}
	}
	return nil
}

// allowedInTrailer reports whether a field may be sent in a trailer section
// (wire.ProhibitedTrailer: RFC 9110 §6.5.1).
func allowedInTrailer(name []byte) bool { return !wire.ProhibitedTrailer(name) }

func containsToken(v []byte, tok string) bool {
	found := false
	wire.ForEachToken(v, func(t []byte) bool {
		found = wire.EqualFold(t, tok)
		return !found
	})
	return found
}
