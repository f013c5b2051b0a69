// Package dumbproxy is the subject of hop lab's dumb-proxy experiment: an HTTP/1.0-era
// proxy of the kind "HTTP: The Definitive Guide" warns about (§4.5.6). It reads one
// request, forwards it to the origin byte for byte — it does not know that
// Connection and Keep-Alive are hop-by-hop, so a client's "Connection: keep-alive"
// reaches the origin — relays the origin's response until the origin closes its
// connection, and then closes the client's. It never reads a second request from the
// client: if the origin agreed to keep the connection alive, the client, seeing the
// relayed "Connection: keep-alive", sends its next request into a proxy that is still
// waiting for the origin to close, and hangs until the origin's idle timeout.
//
// Do not use it for anything else. hop's proxy (package proxy) is the correct one.
package dumbproxy

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hop-http/hop/wire"
)

// MaxRelay bounds how long one exchange is relayed.
const MaxRelay = time.Minute

// Proxy is a blind-forwarding proxy. The zero value dials with net.Dialer.
type Proxy struct {
	// Dial connects to origins; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	wg sync.WaitGroup
}

// Serve handles the connections accepted from ln, one exchange each, until ln is
// closed; then it waits for the exchanges in progress.
func (p *Proxy) Serve(ln net.Listener) error {
	defer p.wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *Proxy) handle(c net.Conn) {
	defer c.Close()
	deadline := time.Now().Add(MaxRelay)
	c.SetDeadline(deadline)

	// Read the request head (hop's codec finds its end and the target).
	buf := make([]byte, 0, 8<<10)
	var parser wire.Parser
	var req wire.Request
	var headLen int
	for {
		if len(buf) == cap(buf) {
			io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n")
			return
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			hl, perr := parser.ParseRequest(buf, &req)
			if perr == nil {
				headLen = hl
				break
			}
			if perr != wire.ErrNeedMore {
				io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n")
				return
			}
		}
		if err != nil {
			return
		}
	}
	// Only an absolute-form http target names the origin (the target's parts come
	// from hop's codec too).
	t, err := wire.ParseTarget(req.Method, req.Target)
	if err != nil || t.Form != wire.FormAbsolute || !wire.EqualFold(t.Scheme, "http") || !t.HasAuthority {
		io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n")
		return
	}
	host, port := string(t.Authority.Host), string(t.Authority.Port)
	if len(host) > 1 && host[0] == '[' {
		host = host[1 : len(host)-1] // an IPv6 literal, for JoinHostPort
	}
	addr := net.JoinHostPort(host, cmp.Or(port, "80"))
	dial := p.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	origin, err := dial(ctx, "tcp", addr)
	if err != nil {
		io.WriteString(c, "HTTP/1.0 502 Bad Gateway\r\n\r\n")
		return
	}
	defer origin.Close()
	origin.SetDeadline(deadline)

	// Forward the head as it came, and the body by its declared length.
	body := req.ContentLength
	if req.Framing != wire.FramingLength {
		body = 0
	}
	if _, err := origin.Write(buf[:headLen]); err != nil {
		return
	}
	rest := buf[headLen:]
	if int64(len(rest)) > body {
		rest = rest[:body] // the client's next request: ignored
	}
	if _, err := origin.Write(rest); err != nil {
		return
	}
	if left := body - int64(len(rest)); left > 0 {
		if _, err := io.CopyN(origin, c, left); err != nil {
			return
		}
	}
	// Relay the response until the origin closes. Whatever else the client sends
	// stays unread.
	io.Copy(c, origin)
}
