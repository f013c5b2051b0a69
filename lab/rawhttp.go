//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/hop-http/hop/wire"
)

// rawConn is an HTTP/1.x client connection driven by hand, for the experiments that
// must control exactly which bytes are written and when (a request in two writes, a
// 1.0-era browser's Proxy-Connection, a body still being sent when the server answers).
// Responses are parsed with hop's codec (package wire).
type rawConn struct {
	ctx context.Context // when canceled, reads fail at once
	c   net.Conn
	buf []byte
	n   int // buffered bytes
}

// rawResponse is one response read by rawConn.
type rawResponse struct {
	Status    int
	KeepAlive bool
	Head      []byte
	Body      []byte
	Declared  int64     // Content-Length, -1 when absent
	FirstByte time.Time // the first byte of the response was read
	Done      time.Time // the body was complete
}

// newRawConn wraps c; its reads end when ctx is canceled (the connection should come
// from env.dialRaw, which sets its deadline to now at that moment).
func newRawConn(ctx context.Context, c net.Conn) *rawConn {
	return &rawConn{ctx: ctx, c: c, buf: make([]byte, 64<<10)}
}

// errNoResponse is returned when the connection ended before a response head.
var errNoResponse = errors.New("connection closed before a response")

// read reads one response to a request with the given method before deadline.
func (rc *rawConn) read(method string, deadline time.Time) (*rawResponse, error) {
	rc.c.SetReadDeadline(deadline)
	// Checked after setting the deadline: a cancellation before it would otherwise
	// be undone by it.
	if err := rc.ctx.Err(); err != nil {
		return nil, err
	}
	var p wire.Parser
	var h wire.Response
	resp := &rawResponse{}
	for {
		if rc.n > 0 {
			if resp.FirstByte.IsZero() {
				resp.FirstByte = time.Now()
			}
			hl, err := p.ParseResponse(rc.buf[:rc.n], &h, []byte(method))
			if err == nil {
				resp.Status, resp.KeepAlive = h.Status, h.KeepAlive
				resp.Head = append([]byte(nil), rc.buf[:hl]...)
				resp.Declared = h.DeclaredLength
				framing, length := h.Framing, h.ContentLength
				rc.consume(hl)
				// A response whose body ends early is returned with the error, so that
				// the caller can see how much arrived.
				return resp, rc.readBody(resp, framing, length)
			}
			if err != wire.ErrNeedMore {
				return nil, err
			}
			if rc.n == len(rc.buf) {
				return nil, errors.New("response head too large")
			}
		}
		m, err := rc.c.Read(rc.buf[rc.n:])
		rc.n += m
		if m == 0 && err != nil {
			if err == io.EOF && rc.n == 0 {
				return nil, errNoResponse
			}
			return nil, err
		}
	}
}

func (rc *rawConn) consume(k int) {
	copy(rc.buf, rc.buf[k:rc.n])
	rc.n -= k
}

func (rc *rawConn) readBody(resp *rawResponse, f wire.Framing, length int64) error {
	switch f {
	case wire.FramingNone:
	case wire.FramingLength:
		for int64(len(resp.Body)) < length {
			if rc.n == 0 {
				if err := rc.fill(); err != nil {
					return fmt.Errorf("body: %w", err)
				}
			}
			k := int(min(int64(rc.n), length-int64(len(resp.Body))))
			resp.Body = append(resp.Body, rc.buf[:k]...)
			rc.consume(k)
		}
	case wire.FramingChunked:
		var d wire.ChunkedDecoder
		for !d.Done() {
			if rc.n == 0 {
				if err := rc.fill(); err != nil {
					return fmt.Errorf("body: %w", err)
				}
			}
			used, data, err := d.Decode(rc.buf[:rc.n])
			if err != nil {
				return err
			}
			resp.Body = append(resp.Body, data...)
			rc.consume(used)
			if !d.Done() && len(data) == 0 && rc.n > 0 {
				// The rest of a framing line is still to come.
				if err := rc.fill(); err != nil {
					return fmt.Errorf("body: %w", err)
				}
			}
		}
	case wire.FramingClose:
		for {
			resp.Body = append(resp.Body, rc.buf[:rc.n]...)
			rc.n = 0
			if err := rc.fill(); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
		}
	}
	resp.Done = time.Now()
	return nil
}

func (rc *rawConn) fill() error {
	if rc.n == len(rc.buf) {
		return errors.New("buffer full")
	}
	m, err := rc.c.Read(rc.buf[rc.n:])
	rc.n += m
	if m > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// isReset reports a connection reset by the peer.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
