package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/hop-http/hop/internal/connbuf"
	"github.com/hop-http/hop/wire"
)

// Request is the server's view of one request. The embedded wire.Request holds the
// parsed head (method, target, fields, framing); its byte slices point into the
// connection's read buffer and are valid only until the handler returns.
type Request struct {
	wire.Request

	c         *conn
	body      body
	continued bool // 100 Continue was sent
	manual100 bool // the handler sends 100 Continue itself (DisableAutoContinue)
	ctx       context.Context
	cancel    context.CancelFunc
}

func (r *Request) reset() {
	r.c = nil
	r.ctx, r.cancel = nil, nil
	r.continued, r.manual100 = false, false
	r.body = body{}
}

func (r *Request) begin(c *conn) {
	if r.cancel != nil {
		r.cancel()
	}
	r.c = c
	r.ctx, r.cancel = nil, nil
	r.continued, r.manual100 = false, false
	b := &r.body
	b.r = r
	b.err = nil
	b.total = 0
	b.remaining = r.ContentLength
	b.chunk.Decoder.Limits = c.srv.Limits
	b.chunk.Reset() // also empties the trailer of the previous request
	b.eof = r.Framing == wire.FramingNone
}

// Body returns the request body as a reader. Reading it first sends 100 Continue when
// the client asked for it (Expect: 100-continue), unless the handler sent it already
// or called DisableAutoContinue. The reader returns io.EOF at the end of the body; a
// malformed or truncated body is an error, and the connection is then closed.
func (r *Request) Body() io.Reader { return &r.body }

// DisableAutoContinue keeps the server from sending 100 Continue by itself when the
// body is first read. The handler then decides: it sends WriteHeader(100) when it
// wants the body (a proxy, when the upstream sent its own 100), or answers with a final
// status without it; the body of a request whose client never got a 100 is not read
// after the response, and the connection is closed. Reading the body without having
// sent 100 waits for the client to send it anyway (clients do after a timeout of
// their own), within BodyReadTimeout.
func (r *Request) DisableAutoContinue() { r.manual100 = true }

// ReadBody returns the whole body, failing with wire.ErrBodyTooLarge beyond max bytes.
// When the body is already in the read buffer it is returned without copying; the
// slice is valid only until the handler returns.
func (r *Request) ReadBody(max int64) ([]byte, error) {
	b := &r.body
	if b.eof && b.total == 0 {
		return nil, b.err
	}
	c := r.c
	if r.Framing == wire.FramingLength && b.total == 0 && r.ContentLength <= max &&
		int64(c.in.Len()) >= r.ContentLength && !r.Expect100 {
		n := int(r.ContentLength)
		p := c.in.Take(n)
		c.in.Pin() // p stays where it is while the handler runs (the pin ends with the request)
		b.total, b.remaining, b.eof = int64(n), 0, true
		b.bodyDone()
		return p, nil
	}
	if r.Framing == wire.FramingLength && r.ContentLength > max {
		return nil, wire.ErrBodyTooLarge
	}
	buf := c.w.scratch[:0]
	for {
		if int64(len(buf)) > max {
			c.w.scratch = buf[:0]
			return nil, wire.ErrBodyTooLarge
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := b.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			c.w.scratch = buf[:0]
			if int64(len(buf)) > max {
				return nil, wire.ErrBodyTooLarge
			}
			return buf, nil
		}
		if err != nil {
			c.w.scratch = buf[:0]
			return nil, err
		}
	}
}

// Trailer returns the trailer fields of a chunked body once it has been read to the
// end. Fields that must not be trailers (framing, routing and the others of RFC 9110
// §6.5.1: Content-Length, Transfer-Encoding, Host, ...; see wire.ProhibitedTrailer)
// are dropped by the decoder, so that a handler or proxy that merges the trailer into
// the header cannot smuggle them in.
func (r *Request) Trailer() *wire.Header { return r.body.chunk.Trailer() }

// Context returns a context that is cancelled when the client goes away (noticed once
// the body has been read) or the connection ends. Calling it arms a background read
// while the handler runs; handlers that never call it pay nothing.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		r.ctx, r.cancel = context.WithCancel(context.Background())
		if r.body.eof {
			r.c.startWatch()
		}
	}
	return r.ctx
}

func (r *Request) watching() bool { return r.c.watch.active }

// RemoteAddr returns the client's address.
func (r *Request) RemoteAddr() net.Addr { return r.c.nc.RemoteAddr() }

// RemoteAddrPort returns the client's address as a netip.AddrPort (zero when it is
// not an IP address), without allocating for TCP.
func (r *Request) RemoteAddrPort() netip.AddrPort { return addrPort(r.c.nc.RemoteAddr()) }

// LocalAddr returns the address the request arrived on.
func (r *Request) LocalAddr() net.Addr { return r.c.nc.LocalAddr() }

// ConnID identifies the connection within its server (1, 2, 3, ...), so logs can show
// connection reuse.
func (r *Request) ConnID() uint64 { return r.c.id }

// ConnRequests is the number of this request on its connection, starting at 1.
func (r *Request) ConnRequests() int { return r.c.nreq }

// TLS returns the TLS state of the connection, or nil for plain TCP.
func (r *Request) TLS() *tls.ConnectionState { return r.c.tlsState }

var _ io.Reader = (*body)(nil)

// body reads a request body from the connection's buffer and socket.
type body struct {
	r         *Request
	remaining int64 // FramingLength: bytes left
	chunk     connbuf.Chunked
	total     int64
	eof       bool
	err       error
	drain     drainBounds // while discard runs
}

// drainBounds bound the drain of a body the handler left unread in bytes read from
// the connection (chunk lines and extensions count, not only data) and in time, for
// the whole drain rather than per read.
type drainBounds struct {
	active   bool
	left     int64     // bytes the drain may still read from the connection
	deadline time.Time // zero: none
}

// errDrainStop ends a drain that reached its bounds: the body is given up, the
// response goes out, and the connection closes after it.
var errDrainStop = errors.New("hop/server: drain bound reached")

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	r := b.r
	c := r.c
	if r.Expect100 && !r.continued && !r.manual100 && !c.w.committed {
		r.continued = true
		c.wbuf = append(c.wbuf, "HTTP/1.1 100 Continue\r\n\r\n"...)
		if !c.flush() {
			b.err = io.ErrUnexpectedEOF
			return 0, b.err
		}
	}
	var n int
	var err error
	if r.Framing == wire.FramingChunked {
		n, err = b.readChunked(p)
	} else {
		n, err = b.readLength(p)
	}
	b.total += int64(n)
	if err == io.EOF {
		b.eof = true
		b.bodyDone()
		return n, io.EOF
	}
	if err == errDrainStop {
		return n, err // the body is not broken: the drain gave up on it
	}
	if err != nil {
		b.err = err
		c.dead = c.dead || !isWireError(err)
	}
	return n, err
}

// fromConn reads more of the body from the connection into p, once per call: within
// BodyReadTimeout, or within the drain's bounds while draining.
func (b *body) fromConn(p []byte) (int, error) {
	c := b.r.c
	d := &b.drain
	if d.active {
		if d.left <= 0 {
			return 0, errDrainStop
		}
		p = p[:min(int64(len(p)), d.left)]
		c.setReadDeadline(d.deadline, 0)
	} else {
		c.setReadTimeout(c.srv.bodyTimeout())
	}
	n, err := c.read(p)
	if n == 0 && err != nil {
		if d.active && isTimeout(err) {
			return 0, errDrainStop
		}
		return 0, bodyReadError(err)
	}
	d.left -= int64(n)
	return n, nil
}

func isWireError(err error) bool {
	var we *wire.Error
	return errors.As(err, &we)
}

// bodyDone runs when the body has been read to its end.
func (b *body) bodyDone() {
	if b.r.ctx != nil {
		b.r.c.startWatch()
	}
}

func (b *body) readLength(p []byte) (int, error) {
	c := b.r.c
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	var n int
	if c.in.Len() > 0 {
		n = copy(p, c.in.Bytes())
		c.in.Consume(n)
	} else {
		var err error
		if n, err = b.fromConn(p); err != nil {
			return 0, err
		}
	}
	b.remaining -= int64(n)
	if b.remaining == 0 {
		return n, io.EOF
	}
	return n, nil
}

func (b *body) readChunked(p []byte) (int, error) {
	c := b.r.c
	max := c.srv.maxRequestBody()
	for {
		data, err := b.chunk.Next(&c.in, len(p))
		if err != nil {
			return 0, err // io.EOF at the end
		}
		if len(data) > 0 {
			n := copy(p, data)
			if max >= 0 && b.total+int64(n) > max {
				return n, wire.ErrBodyTooLarge
			}
			return n, nil
		}
		// The rest of a chunk line, of the data or of the trailer is still to come; the
		// decoder bounds the lines, so a head's worth of room is enough.
		if !c.in.Room(1, c.srv.Limits.MaxHead()) {
			return 0, wire.ErrInvalidChunk
		}
		n, err := b.fromConn(c.in.Free())
		if err != nil {
			return 0, err
		}
		c.in.Advance(n)
	}
}

// discard reads and drops the rest of the body: at most max bytes of data, read with
// at most max bytes from the connection (framing included), within timeout in all (0:
// none). It reports whether the body ended within those bounds (so the connection can
// carry another request).
func (b *body) discard(max int64, timeout time.Duration) bool {
	if max < 0 || b.r.Framing == wire.FramingLength && b.remaining > max {
		return false
	}
	w := &b.r.c.w
	if cap(w.scratch) < 4096 {
		w.scratch = make([]byte, 4096)
	}
	scratch := w.scratch[:cap(w.scratch)]
	b.drain = drainBounds{active: true, left: max, deadline: after(timeout)}
	defer func() { b.drain.active = false }()
	for start := b.total; b.total-start <= max; {
		_, err := b.Read(scratch)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// errBodyTimeout is returned by body reads when BodyReadTimeout passes without input;
// the server answers 408 when the handler has not started its response.
var errBodyTimeout = &wire.Error{Status: 408, Reason: "request body not received in time"}

// bodyReadError maps a failed socket read inside a body: a timeout becomes a 408, the
// end of the stream or a reset an unexpected EOF.
func bodyReadError(err error) error {
	if isTimeout(err) {
		return errBodyTimeout
	}
	return io.ErrUnexpectedEOF
}
