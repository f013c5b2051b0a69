//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"syscall"
	"time"

	"github.com/hop-http/hop/internal/connbuf"
	"github.com/hop-http/hop/wire"
)

// rawConn is an HTTP/1.x client connection driven by hand, for the experiments that
// must control exactly which bytes are written and when (a request in two writes, a
// 1.0-era browser's Proxy-Connection, a body still being sent when the server answers).
// Responses are read with hop's own read side: the connection buffer and chunked
// driver of internal/connbuf and the parser of package wire. What is the lab's is the
// timing of each response (its first byte, its end).
type rawConn struct {
	ctx   context.Context // when canceled, reads fail at once
	c     net.Conn
	in    connbuf.Buffer
	chunk connbuf.Chunked
}

// rawBuffer is the initial size of a rawConn's buffer, rawHeadLimit the most a
// response head may take.
const (
	rawBuffer    = 16 << 10
	rawHeadLimit = 64 << 10
)

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
	rc := &rawConn{ctx: ctx, c: c}
	rc.in.Init(rawBuffer)
	return rc
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
		if rc.in.Len() > 0 {
			if resp.FirstByte.IsZero() {
				resp.FirstByte = time.Now()
			}
			hl, err := p.ParseResponse(rc.in.Bytes(), &h, []byte(method))
			if err == nil {
				resp.Status, resp.KeepAlive = h.Status, h.KeepAlive
				resp.Head = append([]byte(nil), rc.in.Bytes()[:hl]...)
				resp.Declared = h.DeclaredLength
				framing, length := h.Framing, h.ContentLength
				rc.in.Consume(hl)
				// A response whose body ends early is returned with the error, so that
				// the caller can see how much arrived.
				return resp, rc.readBody(resp, framing, length)
			}
			if err != wire.ErrNeedMore {
				return nil, err
			}
		}
		if !rc.in.Room(1, rawHeadLimit) {
			return nil, errors.New("response head too large")
		}
		m, err := rc.in.Fill(rc.c)
		if m == 0 && err != nil {
			if err == io.EOF && rc.in.Len() == 0 {
				return nil, errNoResponse
			}
			return nil, err
		}
	}
}

func (rc *rawConn) readBody(resp *rawResponse, f wire.Framing, length int64) error {
	switch f {
	case wire.FramingNone:
	case wire.FramingLength:
		for left := length; left > 0; {
			if rc.in.Len() == 0 {
				if err := rc.fill(); err != nil {
					return fmt.Errorf("body: %w", err)
				}
			}
			k := int(min(int64(rc.in.Len()), left))
			resp.Body = append(resp.Body, rc.in.Take(k)...)
			left -= int64(k)
		}
	case wire.FramingChunked:
		rc.chunk.Reset()
		for {
			data, err := rc.chunk.Next(&rc.in, math.MaxInt)
			resp.Body = append(resp.Body, data...)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if len(data) == 0 {
				if err := rc.fill(); err != nil {
					return fmt.Errorf("body: %w", err)
				}
			}
		}
	case wire.FramingClose:
		for {
			resp.Body = append(resp.Body, rc.in.Take(rc.in.Len())...)
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

// fill reads once more into the buffer; it returns an error when nothing arrived.
func (rc *rawConn) fill() error {
	if !rc.in.Room(1, rawHeadLimit) {
		return errors.New("buffer full")
	}
	m, err := rc.in.Fill(rc.c)
	if m > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// rawHead builds a request head with hop's serializer: the request line (HTTP/1.minor)
// and the fields, given as name, value, name, value..., in order. The experiments
// choose its bytes and how they are written, not how they are spelled.
func rawHead(method, target string, minor uint8, fields ...string) []byte {
	b := wire.AppendRequestLine(nil, method, target, minor)
	for i := 0; i+1 < len(fields); i += 2 {
		b = wire.AppendField(b, fields[i], fields[i+1])
	}
	return append(b, '\r', '\n')
}

// isReset reports a connection reset by the peer.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
