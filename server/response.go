package server

import (
	"errors"
	"strconv"
	"time"

	"github.com/hop-http/hop/internal/httpdate"
	"github.com/hop-http/hop/wire"
)

// ErrBodyNotAllowed is returned by Write for responses that cannot have a body
// (1xx, 204, 304).
var ErrBodyNotAllowed = errors.New("hop/server: response status does not allow a body")

// ErrContentLength is returned by Write when the handler writes more than the
// Content-Length it declared.
var ErrContentLength = errors.New("hop/server: wrote more than the declared Content-Length")

// ResponseWriter builds the response to one request. Fields set with Header() and the
// status set with WriteHeader take effect when the head is committed: when the handler
// returns, on Flush, or when more than Server.ResponseBuffer bytes of body have been
// written. A response that fits the buffer is sent with Content-Length; a larger one is
// streamed with Content-Length when SetContentLength was called, chunked otherwise
// (close-delimited for HTTP/1.0 clients).
type ResponseWriter struct {
	c   *conn
	req *Request
	// sentHook, set by AccessLog, is told the status and body bytes of the response
	// the server finally sent (or would have: a failure the server answered itself, a
	// 500 for a panic or an overrun) once the connection is done with the request.
	sentHook func(status int, bytes int64)
	header   wire.Header
	trailer  wire.Header
	status   int
	length   int64 // declared Content-Length, -1 when unknown
	body     []byte

	committed bool
	sent      bool // bytes of the committed response were written to the connection
	headAt    int  // where the committed head starts in the connection's pending output
	statusSet bool // WriteHeader set the status
	hasServer bool // the handler set Server (found by applyHeaderControls)
	hasDate   bool // the handler set Date
	declared  bool // the handler set Trailer (trailers announced: the body goes chunked)
	overrun   bool // a buffered write went past the declared length
	chunked   bool
	noBody    bool // HEAD request or a status without body
	switching bool // the head is a 101 or a 2xx to CONNECT, written by TakeOver
	written   int64
	keepAlive bool
	scratch   []byte
}

func (w *ResponseWriter) reset() {
	w.c, w.req = nil, nil
	w.header.Reset()
	w.trailer.Reset()
	w.body = w.body[:0]
}

func (w *ResponseWriter) begin(c *conn, req *Request, keep bool) {
	w.c, w.req = c, req
	w.header.Reset()
	if w.trailer.Len() > 0 {
		w.trailer.Reset()
	}
	w.status = 200
	w.length = -1
	w.body = w.body[:0]
	w.committed, w.sent, w.chunked, w.overrun, w.statusSet, w.switching = false, false, false, false, false, false
	w.noBody = req.IsMethod("HEAD")
	w.written = 0
	w.keepAlive = keep
	w.sentHook = nil
}

// whenSent registers fn to be called with the status and body bytes the server sent
// for this request, after the handler returned and the body was settled (AccessLog).
func (w *ResponseWriter) whenSent(fn func(status int, bytes int64)) { w.sentHook = fn }

// reportSent calls the registered hook, once: with the writer's status and body
// bytes when status is 0, else with status and bytes (an error the connection sent by
// itself).
func (w *ResponseWriter) reportSent(status int, bytes int64) {
	if fn := w.sentHook; fn != nil {
		w.sentHook = nil
		if status == 0 {
			status, bytes = w.status, w.Written()
		}
		fn(status, bytes)
	}
}

// Header returns the response fields to set before the head is committed. Fields whose
// name is not a token or whose value holds CR, LF or another control character are
// dropped when the head is written (no response splitting). Connection,
// Content-Length, Transfer-Encoding and Keep-Alive are managed by the server: a
// Connection: close set here closes the connection after the response, and a
// Content-Length set here is taken as SetContentLength.
func (w *ResponseWriter) Header() *wire.Header { return &w.header }

// WriteHeader sets the status code (default 200). Codes outside 100-999 are ignored,
// and so is every call once the head is committed.
//
// A final code (200-999) does not commit the head: it may still change until then.
//
// An informational code (1xx) is sent at once, as an interim response that carries
// the fields set so far with Header (they stay set for the final response, as RFC 8297
// wants for 103 Early Hints and its Link fields). Several may precede the final
// response; HTTP/1.0 clients get none (RFC 9110 §15.2). WriteHeader(100) sends
// 100 Continue now, so that the server does not send it again when the body is read;
// see Request.DisableAutoContinue for handlers that decide themselves (a proxy relays
// the upstream's). 101 Switching Protocols is the exception: it is only sent by
// TakeOver, and a handler that returns after WriteHeader(101) without taking the
// connection over gets a 500.
func (w *ResponseWriter) WriteHeader(code int) {
	if w.committed || code < 100 || code > 999 {
		return
	}
	if code >= 200 || code == 101 {
		w.status, w.statusSet = code, true
		return
	}
	w.interim(code)
}

// interim sends a 1xx response now, after any pending responses.
func (w *ResponseWriter) interim(code int) {
	c := w.c
	if w.req.Minor == 0 || c.dead {
		return
	}
	if code == 100 {
		if w.req.continued {
			return // sent already
		}
		w.req.continued = true
	}
	b := wire.AppendStatusLine(c.wbuf, 1, code, "")
	b = w.appendFields(b)
	c.wbuf = append(b, '\r', '\n')
	c.flush()
}

// Trailer returns the trailer fields, sent after the body of a chunked response (RFC
// 9112 §7.1.2). Set them any time before the handler returns. A response whose
// fields include Trailer (the announcement of the trailer names), or whose trailer
// is not empty when the handler returns with the head still uncommitted, is sent
// chunked so that the trailer can follow; an uncommitted response that did not
// announce them gets a Trailer field naming them. Trailers are dropped when they
// cannot be sent: to an HTTP/1.0 client, after a response committed with
// Content-Length, for HEAD and bodiless statuses. Fields that must not be trailers
// (wire.ProhibitedTrailer: framing, routing, connection management, authentication,
// content format and response control, RFC 9110 §6.5.1) and fields with invalid names
// or values are dropped too.
func (w *ResponseWriter) Trailer() *wire.Header { return &w.trailer }

// Status returns the status code set so far.
func (w *ResponseWriter) Status() int { return w.status }

// Written returns the number of body bytes written so far.
func (w *ResponseWriter) Written() int64 { return w.written + int64(len(w.body)) }

// SetContentLength declares the body length, so a large body can be streamed without
// chunked encoding. Writing more fails; writing less closes the connection after the
// response.
func (w *ResponseWriter) SetContentLength(n int64) {
	if !w.committed && n >= 0 {
		w.length = n
	}
}

// CloseAfter asks the server to close the connection after this response (it carries
// Connection: close).
func (w *ResponseWriter) CloseAfter() { w.keepAlive = false }

func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

// Write appends p to the body.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if !bodyAllowed(w.status) {
		return 0, ErrBodyNotAllowed
	}
	if !w.committed {
		if w.length >= 0 && int64(len(w.body)+len(p)) > w.length {
			w.overrun = true // the response becomes a 500: its framing cannot be met
			return 0, ErrContentLength
		}
		if len(w.body)+len(p) <= w.bufferLimit() {
			w.body = append(w.body, p...)
			return len(p), nil
		}
		if err := w.commit(); err != nil {
			return 0, err
		}
	}
	return w.stream(p)
}

// WriteString appends s to the body.
func (w *ResponseWriter) WriteString(s string) (int, error) {
	if !w.committed && bodyAllowed(w.status) && len(w.body)+len(s) <= w.bufferLimit() &&
		(w.length < 0 || int64(len(w.body)+len(s)) <= w.length) {
		w.body = append(w.body, s...)
		return len(s), nil
	}
	return w.Write([]byte(s))
}

func (w *ResponseWriter) bufferLimit() int { return w.c.srv.responseBuffer() }

// Flush commits the head if needed and writes everything buffered to the connection.
func (w *ResponseWriter) Flush() error {
	if !w.committed {
		if err := w.commit(); err != nil {
			return err
		}
	}
	if !w.c.flush() {
		return errConnDead
	}
	return nil
}

var errConnDead = errors.New("hop/server: connection closed")

// ErrNeedsTakeOver is returned by writes that would commit a 101 Switching Protocols
// or a 2xx response to CONNECT: those heads are sent by TakeOver only, since the
// connection stops carrying HTTP after them.
var ErrNeedsTakeOver = errors.New("hop/server: a 101 or a 2xx to CONNECT is sent by TakeOver")

// needsTakeOver reports whether the status can only be sent by TakeOver.
func (w *ResponseWriter) needsTakeOver() bool {
	return w.status == 101 || w.status/100 == 2 && w.req.IsMethod("CONNECT")
}

// sendsTrailer reports whether the response is to be sent chunked for its trailer.
func (w *ResponseWriter) sendsTrailer() bool {
	return (w.declared || w.trailer.Len() > 0) && w.req.Minor >= 1 && !w.noBody && bodyAllowed(w.status)
}

// commit writes the head and the buffered body for a response whose length is not
// known yet (streaming).
func (w *ResponseWriter) commit() error {
	if w.needsTakeOver() {
		return ErrNeedsTakeOver
	}
	w.applyHeaderControls()
	if w.length < 0 && bodyAllowed(w.status) {
		if w.req.Minor >= 1 {
			w.chunked = true
		} else {
			w.keepAlive = false // close-delimited
		}
	}
	c := w.c
	w.headAt = len(c.wbuf)
	c.wbuf = w.appendHead(c.wbuf, w.length)
	w.committed = true
	body := w.body
	w.body = w.body[:0]
	if len(body) > 0 {
		if _, err := w.stream(body); err != nil {
			return err
		}
	}
	return nil
}

// stream sends p after the head has been committed.
func (w *ResponseWriter) stream(p []byte) (int, error) {
	c := w.c
	if c.dead {
		return 0, errConnDead
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, ErrContentLength
	}
	w.written += int64(len(p))
	if w.noBody || len(p) == 0 {
		return len(p), nil
	}
	if w.chunked {
		c.wbuf = wire.AppendChunkHeader(c.wbuf, len(p))
	}
	if len(p) < 8<<10 {
		c.wbuf = append(c.wbuf, p...)
		if w.chunked {
			c.wbuf = append(c.wbuf, '\r', '\n')
		}
		if len(c.wbuf) >= flushThreshold && !c.flush() {
			return 0, errConnDead
		}
		return len(p), nil
	}
	var tail []byte
	if w.chunked {
		tail = crlf
	}
	if err := c.writeBuffers(p, tail); err != nil {
		return 0, errConnDead
	}
	return len(p), nil
}

var crlf = []byte("\r\n")

// finish completes the response after the handler returned. It reports false when the
// connection failed.
func (w *ResponseWriter) finish() bool {
	c := w.c
	if c.dead {
		return false
	}
	if !w.committed {
		if w.needsTakeOver() {
			// Never a 101 or a 2xx to CONNECT on a connection that stays HTTP: a CONNECT
			// nobody tunnels is not implemented here (501), a 101 without TakeOver is a
			// handler bug (500).
			code := 500
			if w.status != 101 {
				code = 501
			}
			c.srv.stats.reject(code)
			w.resetForError(code)
			w.keepAlive = false
		}
		w.applyHeaderControls()
		if w.length < 0 && w.sendsTrailer() {
			w.chunked = true
			c.wbuf = w.appendHead(c.wbuf, -1)
			c.wbuf = wire.AppendChunk(c.wbuf, w.body)
			c.wbuf = w.appendLastChunk(c.wbuf)
			w.committed = true
			return true
		}
		n := int64(len(w.body))
		// The declared length frames a body only when one is sent: a 204, a 304 or an
		// answer to HEAD may declare one (RFC 9110 §8.6) without writing it.
		if w.sendsBody() && (w.length >= 0 && w.length != n || w.overrun) {
			if n > w.length || w.overrun {
				// The handler declared less than it wrote: send what was declared
				// would corrupt the stream; answer 500 instead.
				w.resetForError(500)
				w.keepAlive, w.overrun = false, false
				return w.finish()
			}
			// Declared more than written: framing cannot be met; close after sending.
			w.keepAlive = false
		}
		length := n
		if w.length >= 0 {
			length = w.length
		} else if w.noBody && n == 0 {
			length = -1 // HEAD with nothing written: length unknown, send none
		}
		c.wbuf = w.appendHead(c.wbuf, length)
		if w.sendsBody() {
			c.wbuf = append(c.wbuf, w.body...)
		}
		w.committed = true
		return true
	}
	if w.chunked && !w.noBody {
		c.wbuf = w.appendLastChunk(c.wbuf)
	} else if w.length >= 0 && w.written < w.length && w.sendsBody() {
		w.keepAlive = false // the body fell short of its Content-Length
	}
	return true
}

// sendsBody reports whether the response carries a body on the wire: not for HEAD,
// nor for 1xx, 204 and 304.
func (w *ResponseWriter) sendsBody() bool { return !w.noBody && bodyAllowed(w.status) }

// applyHeaderControls reads the fields the server manages from the handler's header.
func (w *ResponseWriter) applyHeaderControls() {
	if w.c.srv.closing.Load() {
		w.keepAlive = false // shutting down: this is the connection's last response
	}
	w.hasServer, w.hasDate, w.declared = false, false, false
	h := &w.header
	for i := 0; i < h.Len(); i++ {
		name, value := h.At(i)
		switch len(name) { // one length test per field before any name comparison
		case 4:
			w.hasDate = w.hasDate || wire.EqualFold(name, "date")
		case 6:
			w.hasServer = w.hasServer || wire.EqualFold(name, "server")
		case 7:
			w.declared = w.declared || wire.EqualFold(name, "trailer")
		case 10:
			if wire.EqualFold(name, "connection") {
				wire.ForEachToken(value, func(t []byte) bool {
					if wire.EqualFold(t, "close") {
						w.keepAlive = false
					}
					return true
				})
			}
		case 14:
			if w.length < 0 && wire.EqualFold(name, "content-length") {
				if n, ok := wire.ParseContentLength(value); ok {
					w.length = n
				}
			}
		}
	}
}

// appendHead serializes the status line and fields; length < 0 means no Content-Length.
func (w *ResponseWriter) appendHead(b []byte, length int64) []byte {
	s := w.c.srv
	b = wire.AppendStatusLine(b, 1, w.status, "")
	b = appendServerDate(b, s, !w.hasServer, !w.hasDate)
	switch {
	case w.switching:
		// The connection leaves HTTP after this head: no framing, no keep-alive.
		if w.status == 101 {
			b = append(b, "Connection: upgrade\r\n"...)
		}
	default:
		if bodyAllowed(w.status) {
			if w.chunked {
				b = append(b, "Transfer-Encoding: chunked\r\n"...)
				if !w.declared && w.trailer.Len() > 0 {
					b = w.appendTrailerNames(b)
				}
			} else if length >= 0 {
				b = wire.AppendIntField(b, "Content-Length", length)
			}
		}
		if !w.keepAlive {
			b = append(b, "Connection: close\r\n"...)
		} else if w.req.Minor == 0 {
			b = append(b, "Connection: keep-alive\r\nKeep-Alive: timeout="...)
			b = strconv.AppendInt(b, int64((s.idleTimeout()+time.Second-1)/time.Second), 10) // whole seconds, rounded up
			if max := s.maxRequests(); max > 0 {
				b = append(b, ", max="...)
				b = strconv.AppendInt(b, int64(max-w.c.nreq), 10)
			}
			b = append(b, '\r', '\n')
		}
	}
	b = w.appendFields(b)
	return append(b, '\r', '\n')
}

// appendFields appends the handler's fields, less those the server manages and those
// that would split the response (a name that is not a token, a value with CR, LF or
// another control character).
func (w *ResponseWriter) appendFields(b []byte) []byte {
	h := &w.header
	for i := 0; i < h.Len(); i++ {
		name, value := h.At(i)
		if wire.IsConnectionManaged(name) || !wire.IsToken(name) || !wire.ValidFieldValue(value) {
			// A CR or LF in a handler's field would split the response: drop the field.
			continue
		}
		b = wire.AppendField(b, name, value)
	}
	return b
}

// appendLastChunk appends the last chunk with the trailer fields that may be sent.
func (w *ResponseWriter) appendLastChunk(b []byte) []byte {
	b = append(b, '0', '\r', '\n')
	t := &w.trailer
	for i := 0; i < t.Len(); i++ {
		if name, value := t.At(i); sendableTrailer(name, value) {
			b = wire.AppendField(b, name, value)
		}
	}
	return append(b, '\r', '\n')
}

// sendableTrailer reports whether a trailer field may go out: a valid field that may
// be a trailer (wire.ProhibitedTrailer, RFC 9110 §6.5.1).
func sendableTrailer(name, value []byte) bool {
	return wire.IsToken(name) && wire.ValidFieldValue(value) && !wire.ProhibitedTrailer(name)
}

// appendTrailerNames announces the trailer fields that will be sent.
func (w *ResponseWriter) appendTrailerNames(b []byte) []byte {
	t := &w.trailer
	first := true
	for i := 0; i < t.Len(); i++ {
		name, value := t.At(i)
		if !sendableTrailer(name, value) {
			continue
		}
		if first {
			b = append(b, "Trailer: "...)
			first = false
		} else {
			b = append(b, ", "...)
		}
		b = append(b, name...)
	}
	if !first {
		b = append(b, '\r', '\n')
	}
	return b
}

// resetForError discards an uncommitted response and replaces it with a plain error.
func (w *ResponseWriter) resetForError(code int) {
	w.header.Reset()
	w.trailer.Reset()
	w.body = w.body[:0]
	w.status = code
	w.length = -1
	w.header.Set("Content-Type", "text/plain; charset=utf-8")
	w.body = append(w.body, wire.StatusText(code)...)
	w.body = append(w.body, '\n')
}

// appendServerDate appends the Server field (unless the server's Name is "-") and the
// cached Date field, each when asked.
func appendServerDate(b []byte, s *Server, server, date bool) []byte {
	if server && s.Name != "-" {
		b = append(b, "Server: "...)
		if s.Name == "" {
			b = append(b, "hop"...)
		} else {
			b = append(b, s.Name...)
		}
		b = append(b, '\r', '\n')
	}
	if date {
		b = append(b, "Date: "...)
		b = append(b, httpdate.Now()...)
		b = append(b, '\r', '\n')
	}
	return b
}
