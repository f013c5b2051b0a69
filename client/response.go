package client

import (
	"crypto/tls"
	"io"
	"net"

	"github.com/hop-http/hop/wire"
)

// Response is the response to a request. It is meant to be reused: [Client.Do] fills
// it, growing its buffers only when a larger response arrives, so a loop that reuses
// one Request and one Response allocates nothing per request.
//
// After [Client.DoStream] the body is not read yet: read it with [Response.BodyReader]
// and call [Response.Close] when done.
type Response struct {
	Major, Minor uint8  // HTTP version of the response
	Status       int    // status code
	Reason       []byte // reason phrase
	// Header holds the response fields (a copy owned by the Response).
	Header wire.Header
	// Body is the whole body after Do (empty after DoStream).
	Body []byte
	// Trailer holds the trailer fields of a chunked body, once it has been read.
	Trailer wire.Header
	// ContentLength is the declared body length, -1 when not declared (chunked or
	// close-delimited). For a response to HEAD it is the Content-Length the server
	// sent (the length a GET would have had; -1 when absent) although no body
	// follows; for the other responses without a body (204, 304) it is 0.
	ContentLength int64
	// Framing is how the body was delimited.
	Framing wire.Framing
	// KeepAlive reports that the connection could be reused after this response (the
	// server did not ask to close and the framing allows it).
	KeepAlive bool

	// ConnID is the number of the connection that carried the response; Reused
	// reports whether that connection had carried an earlier request.
	ConnID uint64
	Reused bool // the connection had carried earlier requests
	// LocalAddr and RemoteAddr are the connection's addresses.
	LocalAddr, RemoteAddr net.Addr
	// TLS is the TLS state of the connection, nil when plain.
	TLS *tls.ConnectionState
	// URL is the URL of the final request, after redirects.
	URL URL
	// Redirects and Retries count the redirects followed and the attempts re-sent.
	Redirects, Retries int
	// Timings are the times of the exchange, recorded without a Trace: Start (the
	// call), the connection's set-up when it was new (DNS, connect, TLS), GotConn,
	// WroteRequest, FirstByte and Done (the end of the body, after DoStream once it
	// is read or closed). After redirects and retries they describe the last attempt,
	// and Start the call.
	Timings Timings

	stream   bodyReader
	switched *SwitchedConn
}

// Reset clears r for reuse, keeping its storage. It closes an unread streamed body.
func (r *Response) Reset() {
	r.Close()
	h, t, body, reason := r.Header, r.Trailer, r.Body[:0], r.Reason[:0]
	h.Reset()
	t.Reset()
	*r = Response{Header: h, Trailer: t, Body: body, Reason: reason}
}

// BodyReader returns the body after [Client.DoStream]. It reads straight from the
// connection; a body that ends before its declared length or its last chunk fails
// with [ErrTruncated], and its connection is closed, never reused. At the end of the
// body the connection returns to the pool. The reader implements io.WriterTo, so that
// io.Copy writes from the connection's buffer without another copy.
//
// After the connection switched protocols, BodyReader returns the [SwitchedConn].
func (r *Response) BodyReader() io.Reader {
	if r.switched != nil {
		return r.switched
	}
	return &r.stream
}

// BodyWaits reports whether the next read of a streamed body would wait for the
// network: the body has not ended and none of it is buffered. A proxy flushes what it
// relayed before such a read, so that the bytes of an upstream that pauses (server-sent
// events, long polling) reach its client at once, while bytes that arrived together
// are written together.
func (r *Response) BodyWaits() bool { return r.switched == nil && r.stream.waits() }

// SwitchedConn returns the connection after 101 Switching Protocols (to a request with
// an Upgrade field) or a 2xx answer to CONNECT, and nil for every other response. The
// connection has left the pool: the caller owns it and must close it (Reset does not).
func (r *Response) SwitchedConn() *SwitchedConn { return r.switched }

// Close ends a streamed body: what remains is read and discarded (up to
// Client.MaxDrain bytes, within Client.DrainTimeout) so that the connection can be
// reused, or else the connection is closed. It is a no-op after Do or at the end of
// the body.
func (r *Response) Close() error { return r.stream.close() }

// setHead copies the parsed head into r; head reports a response to HEAD.
func (r *Response) setHead(h *wire.Response, head bool) {
	r.Major, r.Minor, r.Status = h.Major, h.Minor, h.Status
	r.Reason = append(r.Reason[:0], h.Reason...)
	r.Header.CopyFrom(&h.Header)
	r.Framing = h.Framing
	r.ContentLength = -1
	switch h.Framing {
	case wire.FramingLength:
		r.ContentLength = h.ContentLength
	case wire.FramingNone:
		r.ContentLength = 0
		if head {
			r.ContentLength = h.DeclaredLength
		}
	}
	r.KeepAlive = h.KeepAlive
}
