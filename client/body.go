package client

import (
	"io"
	"time"

	"github.com/hop-http/hop/wire"
)

// bodyReader reads a response body from its connection, by the framing of the head.
// When the body ends (or fails) the exchange ends: the connection goes back to the
// pool or is closed.
type bodyReader struct {
	c         *conn
	resp      *Response
	framing   wire.Framing
	remaining int64 // FramingLength: bytes still to come
	n         int64 // bytes delivered
	done      bool
	err       error // what Read returns once done (io.EOF on success)
}

func (b *bodyReader) start(c *conn, resp *Response) {
	*b = bodyReader{c: c, resp: resp, framing: c.head.Framing, remaining: c.head.ContentLength}
	if b.framing == wire.FramingChunked {
		c.chunk.Reset()
	}
	if b.framing == wire.FramingNone {
		b.finish(nil)
	}
}

// finish ends the exchange. err nil means the body ended properly.
func (b *bodyReader) finish(err error) {
	if b.done {
		return
	}
	b.done = true
	c := b.c
	b.c = nil
	if err != nil {
		b.err = err
		c.dead = true
	} else {
		b.err = io.EOF
		if t := c.chunk.Trailer(); b.framing == wire.FramingChunked && t.Len() > 0 {
			b.resp.Trailer.CopyFrom(t)
		}
	}
	c.end(err, c.head.Status, b.n)
}

// A chunked body that has delivered chunkedStreamAfter bytes is read into a buffer of
// chunkedStreamBuffer bytes (kept with the connection), not ReadBufferSize: with 4 KiB
// a 32 MiB chunked body took 8,418 reads, a Content-Length one 1,048.
const (
	chunkedStreamAfter  = 64 << 10
	chunkedStreamBuffer = 32 << 10
)

// next returns up to max bytes of body from the read buffer (zero-copy, valid until
// the next call), reading from the connection when the buffer is empty. It returns
// (nil, nil) at the end of the body.
func (b *bodyReader) next(max int) ([]byte, error) {
	c := b.c
	in := &c.in
	switch b.framing {
	case wire.FramingLength:
		if b.remaining == 0 {
			return nil, nil
		}
		if in.Len() == 0 {
			if err := c.fill(in.Cap()); err != nil {
				return nil, b.readErr(err)
			}
		}
		k := int64(min(in.Len(), max))
		if k > b.remaining {
			k = b.remaining
		}
		b.remaining -= k
		return in.Take(int(k)), nil
	case wire.FramingChunked:
		for {
			p, err := c.chunk.Next(in, max)
			switch {
			case err == io.EOF:
				return nil, nil
			case err != nil:
				return nil, err
			case len(p) > 0:
				return p, nil
			}
			if b.n >= chunkedStreamAfter && in.Cap() < chunkedStreamBuffer {
				// A long chunked body: read it in larger pieces than the head needed
				// (a Content-Length body is read into the caller's buffer instead).
				in.Room(chunkedStreamBuffer, chunkedStreamBuffer)
			}
			if err := c.fill(c.headLimit()); err != nil {
				return nil, b.readErr(err)
			}
		}
	case wire.FramingClose:
		if in.Len() == 0 {
			err := c.fill(in.Cap())
			if err == io.EOF {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
		}
		return in.Take(min(in.Len(), max)), nil
	}
	return nil, nil
}

// waits reports whether the next Read must read from the connection: the body has not
// ended and nothing of it is buffered (for a chunked body: no data once the buffered
// framing is decoded).
func (b *bodyReader) waits() bool {
	c := b.c
	if b.done || c == nil {
		return false
	}
	switch b.framing {
	case wire.FramingLength:
		return b.remaining > 0 && c.in.Len() == 0
	case wire.FramingChunked:
		return !c.chunk.Ready(&c.in)
	case wire.FramingClose:
		return c.in.Len() == 0
	}
	return false
}

// readErr turns an end of input inside a body into ErrTruncated.
func (b *bodyReader) readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrTruncated
	}
	return err
}

// Read implements io.Reader.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.done {
		return 0, b.err
	}
	if b.c == nil {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	c := b.c
	// A large read of a length-delimited body with nothing buffered goes straight
	// into p.
	if b.framing == wire.FramingLength && c.in.Len() == 0 && len(p) >= 2048 && b.remaining > 0 {
		q := p
		if int64(len(q)) > b.remaining {
			q = q[:b.remaining]
		}
		n, err := c.readDirect(q)
		b.n += int64(n)
		b.remaining -= int64(n)
		if n == 0 && err != nil {
			err = b.readErr(err)
			b.finish(err)
			return 0, err
		}
		if b.remaining == 0 {
			b.finish(nil)
		}
		return n, nil
	}
	s, err := b.next(len(p))
	if err != nil {
		b.finish(err)
		return 0, err
	}
	if len(s) == 0 {
		b.finish(nil)
		return 0, io.EOF
	}
	n := copy(p, s)
	b.n += int64(n)
	if b.framing == wire.FramingLength && b.remaining == 0 ||
		b.framing == wire.FramingChunked && b.c.chunk.Ended(&b.c.in) {
		b.finish(nil)
	}
	return n, nil
}

// WriteTo writes the rest of the body to w (io.Copy uses it): bytes already buffered
// go from the connection's read buffer, and a length-delimited or close-delimited
// remainder is read in 32 KiB pieces, so a large body streams with one bounded buffer
// and backpressure (the connection is read only as fast as w takes it). A body that
// ends early fails with ErrTruncated. When w fails, the body is left unfinished:
// Response.Close then drains or closes the connection.
func (b *bodyReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if b.done {
			if b.err == io.EOF {
				return total, nil
			}
			return total, b.err
		}
		if b.c == nil {
			return total, nil
		}
		c := b.c
		var s []byte
		var err error
		if c.in.Len() == 0 && (b.framing == wire.FramingLength && b.remaining > 0 || b.framing == wire.FramingClose) {
			// Nothing buffered: read a large piece straight into the copy buffer.
			if c.sbuf == nil {
				c.sbuf = make([]byte, streamChunk)
			}
			q := c.sbuf
			if b.framing == wire.FramingLength && int64(len(q)) > b.remaining {
				q = q[:b.remaining]
			}
			n, rerr := c.readDirect(q)
			switch {
			case n > 0:
				s = q[:n]
				if b.framing == wire.FramingLength {
					b.remaining -= int64(n)
				}
			case rerr == io.EOF && b.framing == wire.FramingClose:
			case rerr != nil:
				err = b.readErr(rerr)
			}
		} else {
			s, err = b.next(streamChunk)
		}
		if err != nil {
			b.finish(err)
			return total, err
		}
		if len(s) == 0 {
			b.finish(nil)
			continue
		}
		k, werr := w.Write(s)
		total += int64(k)
		b.n += int64(k)
		if werr == nil && k < len(s) {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			return total, werr
		}
		if b.framing == wire.FramingLength && b.remaining == 0 ||
			b.framing == wire.FramingChunked && b.c.chunk.Ended(&b.c.in) {
			b.finish(nil)
		}
	}
}

// close ends a streamed body early: it discards up to MaxDrain bytes within
// DrainTimeout so the connection can be reused, and closes it otherwise.
func (b *bodyReader) close() error {
	if b.done || b.c == nil {
		return nil
	}
	c := b.c
	if b.framing == wire.FramingClose {
		c.dead = true
		b.finish(nil)
		return nil
	}
	limit := c.cl.maxDrain()
	if b.framing == wire.FramingLength && b.remaining > limit+int64(c.in.Len()) {
		c.dead = true
		b.finish(nil)
		return nil
	}
	if t := c.cl.drainTimeout(); t > 0 {
		dl := time.Now().Add(t)
		if c.deadline.IsZero() || dl.Before(c.deadline) {
			c.deadline = dl
		}
	}
	var drained int64
	for drained <= limit {
		s, err := b.next(64 << 10)
		if err != nil {
			c.dead = true
			b.finish(nil)
			return nil
		}
		if len(s) == 0 {
			b.finish(nil)
			return nil
		}
		drained += int64(len(s))
		if b.framing == wire.FramingLength && b.remaining == 0 {
			b.finish(nil)
			return nil
		}
	}
	c.dead = true
	b.finish(nil)
	return nil
}

// readAll reads the whole body into resp.Body, bounded by max bytes.
func (b *bodyReader) readAll(resp *Response, max int64) error {
	body := resp.Body[:0]
	if b.done {
		resp.Body = body
		if b.err == io.EOF {
			return nil
		}
		return b.err
	}
	if b.framing == wire.FramingLength {
		if b.remaining > max {
			b.c.dead = true
			b.finish(ErrBodyTooLarge)
			return ErrBodyTooLarge
		}
		need := int(b.remaining)
		if cap(body) < need {
			body = make([]byte, 0, need)
		}
		body = body[:need]
		got := 0
		for got < need {
			n, err := b.Read(body[got:])
			got += n
			if err != nil {
				resp.Body = body[:got]
				return err
			}
		}
		resp.Body = body
		if !b.done {
			b.finish(nil)
		}
		return nil
	}
	for {
		if len(body) == cap(body) {
			if int64(len(body)) >= max+1 {
				resp.Body = body
				b.finish(ErrBodyTooLarge)
				return ErrBodyTooLarge
			}
			body = append(body, make([]byte, 4096)...)[:len(body)]
		}
		limit := cap(body)
		if int64(limit) > max+1 {
			limit = int(max + 1)
		}
		n, err := b.Read(body[len(body):limit])
		body = body[:len(body)+n]
		if int64(len(body)) > max {
			resp.Body = body
			b.finish(ErrBodyTooLarge)
			return ErrBodyTooLarge
		}
		if err == io.EOF {
			resp.Body = body
			return nil
		}
		if err != nil {
			resp.Body = body
			return err
		}
	}
}
