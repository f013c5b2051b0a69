// Package plainclient is the small client the benchmark programs and tests use to talk
// to the plaintext servers: it builds the TechEmpower plaintext request and reads and
// checks responses with hop's wire parser (there is one HTTP parser in this repository).
package plainclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hop-http/hop/benchmarks/servers"
	"github.com/hop-http/hop/wire"
)

// Request returns the request TechEmpower's plaintext test sends (wrk with Host,
// Accept and Connection fields), for host. With close set the Connection field asks
// the server to close after the response.
func Request(host string, close bool) []byte {
	conn := "keep-alive"
	if close {
		conn = "close"
	}
	b := wire.AppendRequestLine(nil, "GET", "/plaintext", 1)
	b = wire.AppendField(b, "Host", host)
	b = wire.AppendField(b, "Accept", accept)
	b = wire.AppendField(b, "Connection", conn)
	return append(b, '\r', '\n')
}

// accept is the Accept field of TechEmpower's plaintext request.
const accept = "text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7"

// Response is one parsed response. Head, Body and the header's slices point into the
// buffer given to Reader and are valid until the next Read.
type Response struct {
	wire.Response
	Raw  []byte // the whole response, head and body
	Body []byte
}

// ErrTooLarge is returned when a response does not fit the Reader's buffer.
var ErrTooLarge = errors.New("plainclient: response larger than the buffer")

// Reader reads responses from a connection into a fixed buffer, keeping bytes that
// follow a response (pipelined responses) for the next Read.
type Reader struct {
	r          io.Reader
	buf        []byte
	start, end int
	p          wire.Parser
}

// NewReader returns a Reader on r with a buffer of size bytes.
func NewReader(r io.Reader, size int) *Reader {
	return &Reader{r: r, buf: make([]byte, size)}
}

// Reset makes rd read from r, dropping buffered bytes.
func (rd *Reader) Reset(r io.Reader) {
	rd.r, rd.start, rd.end = r, 0, 0
	rd.p.Reset()
}

// Buffered returns the number of bytes read but not yet returned in a response.
func (rd *Reader) Buffered() int { return rd.end - rd.start }

// Read reads the next response to a GET into resp.
func (rd *Reader) Read(resp *Response) error {
	for {
		if rd.start < rd.end {
			h, err := rd.p.ParseResponse(rd.buf[rd.start:rd.end], &resp.Response, []byte("GET"))
			if err == nil {
				if resp.Framing != wire.FramingLength && resp.Framing != wire.FramingNone {
					return fmt.Errorf("plainclient: response framing %v, want a Content-Length", resp.Framing)
				}
				total := h + int(resp.ContentLength)
				moved := false
				if rd.start+total > len(rd.buf) {
					if total > len(rd.buf) {
						return ErrTooLarge
					}
					rd.compact()
					moved = true
				}
				for rd.end-rd.start < total {
					if err := rd.fill(); err != nil {
						return err
					}
				}
				resp.Raw = rd.buf[rd.start : rd.start+total]
				if moved {
					// The header's slices pointed into the bytes before they moved.
					if _, err := rd.p.ParseResponse(resp.Raw[:h], &resp.Response, []byte("GET")); err != nil {
						return err
					}
				}
				resp.Body = resp.Raw[h:]
				rd.start += total
				if rd.start == rd.end {
					rd.start, rd.end = 0, 0
				}
				return nil
			}
			if err != wire.ErrNeedMore {
				return err
			}
		}
		if err := rd.fill(); err != nil {
			return err
		}
	}
}

func (rd *Reader) compact() {
	if rd.start > 0 {
		rd.end = copy(rd.buf, rd.buf[rd.start:rd.end])
		rd.start = 0
	}
}

// fill reads more bytes after end, compacting first when the buffer is full.
func (rd *Reader) fill() error {
	if rd.end == len(rd.buf) {
		rd.compact()
		if rd.end == len(rd.buf) {
			return ErrTooLarge
		}
	}
	n, err := rd.r.Read(rd.buf[rd.end:])
	rd.end += n
	if n > 0 {
		return nil
	}
	if err == io.EOF {
		if rd.start < rd.end {
			return io.ErrUnexpectedEOF
		}
		return io.EOF
	}
	if err == nil {
		return io.ErrNoProgress
	}
	return err
}

// Check reports whether resp is a correct plaintext answer by the TechEmpower rules:
// status 200, body servers.Body, Content-Type: text/plain, Content-Length: 13, a
// Server field and a valid Date field; and, when keepAlive is set, that the connection
// stays open.
func Check(resp *Response, keepAlive bool) error {
	h := &resp.Header
	switch {
	case resp.Status != 200:
		return fmt.Errorf("status %d, want 200", resp.Status)
	case !bytes.Equal(resp.Body, []byte(servers.Body)):
		return fmt.Errorf("body %q, want %q", resp.Body, servers.Body)
	case string(h.Get("Content-Type")) != servers.ContentType:
		return fmt.Errorf("Content-Type %q, want %s", h.Get("Content-Type"), servers.ContentType)
	case string(h.Get("Content-Length")) != strconv.Itoa(len(servers.Body)):
		return fmt.Errorf("Content-Length %q, want %d", h.Get("Content-Length"), len(servers.Body))
	case len(h.Get("Server")) == 0:
		return errors.New("no Server field")
	case resp.KeepAlive != keepAlive:
		return fmt.Errorf("keep-alive %v, want %v", resp.KeepAlive, keepAlive)
	}
	if _, err := http.ParseTime(string(h.Get("Date"))); err != nil {
		return fmt.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	return nil
}
