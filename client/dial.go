package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hop-http/hop/resolve"
	"github.com/hop-http/hop/wire"
)

// dial sets up a new connection for the pool: resolve, connect (Happy Eyeballs), the
// CONNECT tunnel when an https origin is reached through a proxy, then TLS. The slot
// is already counted in p.open and p.dialing.
func (p *hostPool) dial(ctx context.Context, deadline time.Time, tr *Trace) (*conn, error) {
	c, err := p.dialConn(ctx, deadline, tr)
	if err != nil {
		p.dialFailed()
		return nil, err
	}
	p.dialed()
	return c, nil
}

func (p *hostPool) dialConn(ctx context.Context, deadline time.Time, tr *Trace) (*conn, error) {
	cl := p.cl
	if ctx == nil {
		ctx = context.Background()
	}
	dctx, cancel := context.WithTimeout(ctx, cl.connectTimeout())
	defer cancel()
	if !deadline.IsZero() {
		var cancel2 context.CancelFunc
		dctx, cancel2 = context.WithDeadline(dctx, deadline)
		defer cancel2()
	}
	host, port := p.key.host, p.key.port
	if p.proxyURL != nil {
		host, port = p.proxyURL.Host, p.proxyURL.EffectivePort()
	}
	portNum, _ := strconv.Atoi(port)

	// Resolve.
	if tr != nil && tr.DNSStart != nil {
		tr.DNSStart(host)
	}
	addrs, source, err := cl.lookup(dctx, host, port)
	if tr != nil && tr.DNSDone != nil {
		tr.DNSDone(DNSInfo{Host: host, Addrs: addrs, Source: source, Err: err})
	}
	if err != nil {
		return nil, &connErr{op: "resolve", err: err}
	}

	// Connect.
	nc, err := cl.connect(dctx, resolve.Interleave(addrs), uint16(portNum), tr)
	if err != nil {
		return nil, &connErr{op: "connect", err: err}
	}
	tcp, _ := nc.(*net.TCPConn)
	if tcp != nil {
		tcp.SetNoDelay(!cl.DisableNoDelay)
	}
	c := &conn{
		id:      cl.nextID.Add(1),
		cl:      cl,
		pool:    p,
		nc:      nc,
		tcp:     tcp,
		created: time.Now(),
		idleTTL: cl.idleTimeout(),
	}
	if p.proxyURL != nil {
		c.proxy = p.proxyURL.Redacted()
	}
	c.init()

	if p.proxyURL != nil && p.key.scheme == "https" {
		err := c.tunnel(dctx, p.key.host, p.key.port)
		if tr != nil && tr.ProxyConnect != nil {
			tr.ProxyConnect(c.proxy, net.JoinHostPort(p.key.host, p.key.port), err)
		}
		if err != nil {
			nc.Close()
			return nil, &connErr{op: "proxy", err: err}
		}
	}
	if p.key.scheme == "https" {
		if err := c.handshake(dctx, p.tlsConfig(), tr); err != nil {
			nc.Close()
			return nil, &connErr{op: "tls", err: err}
		}
	}
	return c, nil
}

// lookup resolves host, honouring Client.Resolve overrides.
func (cl *Client) lookup(ctx context.Context, host, port string) ([]netip.Addr, string, error) {
	if cl.Resolve != nil {
		if a, ok := cl.Resolve[net.JoinHostPort(host, port)]; ok && len(a) > 0 {
			return a, "override", nil
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, resolve.SourceLiteral, nil
	}
	r := cl.Resolver
	if r == nil {
		r = resolve.Default
	}
	res, err := r.Lookup(ctx, host)
	if err != nil {
		return nil, "", err
	}
	return res.Addrs, res.Source, nil
}

type dialResult struct {
	nc   net.Conn
	addr netip.AddrPort
	err  error
}

// connect opens a TCP connection to one of addrs (already interleaved by family),
// racing them as RFC 8305 describes: the next address is tried when the previous
// attempt failed or after HappyEyeballsDelay without an answer; the first connection
// established wins and the others are abandoned and closed.
func (cl *Client) connect(ctx context.Context, addrs []netip.Addr, port uint16, tr *Trace) (net.Conn, error) {
	d := net.Dialer{KeepAlive: 30 * time.Second}
	dialOne := func(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
		if cl.Dial != nil {
			return cl.Dial(ctx, "tcp", ap.String())
		}
		return d.DialContext(ctx, "tcp", ap.String())
	}
	if len(addrs) == 1 {
		ap := netip.AddrPortFrom(addrs[0], port)
		if tr != nil && tr.ConnectStart != nil {
			tr.ConnectStart(ap)
		}
		nc, err := dialOne(ctx, ap)
		if tr != nil && tr.ConnectDone != nil {
			tr.ConnectDone(ap, err)
		}
		return nc, err
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan dialResult, len(addrs))
	next, inflight := 0, 0
	start := func() {
		ap := netip.AddrPortFrom(addrs[next], port)
		next++
		inflight++
		if tr != nil && tr.ConnectStart != nil {
			tr.ConnectStart(ap)
		}
		go func() {
			nc, err := dialOne(actx, ap)
			results <- dialResult{nc, ap, err}
		}()
	}
	delay := cl.happyEyeballsDelay()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	start()
	var errs []error
	for {
		select {
		case r := <-results:
			inflight--
			if tr != nil && tr.ConnectDone != nil {
				tr.ConnectDone(r.addr, r.err)
			}
			if r.err == nil {
				cancel()
				if inflight > 0 {
					// Close the losers as they come in.
					go func(n int) {
						for range n {
							if l := <-results; l.err == nil {
								l.nc.Close()
							}
						}
					}(inflight)
				}
				return r.nc, nil
			}
			errs = append(errs, r.err)
			if next < len(addrs) {
				start()
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(delay)
			} else if inflight == 0 {
				return nil, errors.Join(errs...)
			}
		case <-timer.C:
			if next < len(addrs) {
				start()
				timer.Reset(delay)
			}
		case <-ctx.Done():
			cancel()
			go func(n int) {
				for range n {
					if l := <-results; l.err == nil {
						l.nc.Close()
					}
				}
			}(inflight)
			return nil, ctx.Err()
		}
	}
}

// tunnel asks the proxy on c to open a tunnel to host:port (CONNECT, RFC 9110 §9.3.6).
func (c *conn) tunnel(ctx context.Context, host, port string) error {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	target := net.JoinHostPort(host, port)
	b := wire.AppendRequestLine(c.wbuf[:0], "CONNECT", target, 1)
	b = wire.AppendField(b, "Host", target)
	if a := c.pool.proxyAuth; a != "" {
		b = wire.AppendField(b, "Proxy-Authorization", a)
	}
	b = append(b, '\r', '\n')
	c.wbuf = b
	if _, err := c.nc.Write(b); err != nil {
		return err
	}
	c.method = "CONNECT"
	for {
		n, err := c.parser.ParseResponse(c.rbuf[c.rpos:c.rend], &c.head, []byte("CONNECT"))
		if err == nil {
			if c.head.Status < 200 {
				c.rpos += n
				continue
			}
			status, reason := c.head.Status, string(c.head.Reason)
			c.rpos += n
			if status >= 300 {
				return fmt.Errorf("proxy refused CONNECT %s: %d %s", target, status, reason)
			}
			if c.rpos != c.rend {
				return errors.New("proxy sent data after its CONNECT response")
			}
			c.rpos, c.rend = 0, 0
			return nil
		}
		if err != wire.ErrNeedMore {
			c.parser.Reset()
			return err
		}
		if !c.makeRoom(c.headLimit()) {
			return errBufferFull
		}
		k, err := c.nc.Read(c.rbuf[c.rend:])
		c.rend += k
		if k == 0 && err != nil {
			return err
		}
	}
}

// tlsConfig returns the pool's TLS configuration: Client.TLSConfig (or defaults) with
// SNI set to the host, ALPN http/1.1 and the client's session cache.
func (p *hostPool) tlsConfig() *tls.Config {
	p.tlsOnce.Do(func() {
		cl := p.cl
		var conf *tls.Config
		if cl.TLSConfig != nil {
			conf = cl.TLSConfig.Clone()
		} else {
			conf = &tls.Config{}
		}
		if conf.ServerName == "" {
			host := p.key.host
			if i := strings.IndexByte(host, '%'); i >= 0 {
				host = host[:i]
			}
			conf.ServerName = host
		}
		conf.NextProtos = []string{"http/1.1"}
		if cl.InsecureSkipVerify {
			conf.InsecureSkipVerify = true
		}
		if conf.ClientSessionCache == nil && !cl.DisableTLSResumption {
			conf.ClientSessionCache = cl.sessionCache()
		}
		if cl.DisableTLSResumption {
			conf.ClientSessionCache = nil
			conf.SessionTicketsDisabled = true
		}
		p.tlsConf = conf
	})
	return p.tlsConf
}

// handshake runs the TLS handshake over c.nc.
func (c *conn) handshake(ctx context.Context, conf *tls.Config, tr *Trace) error {
	if tr != nil && tr.TLSStart != nil {
		tr.TLSStart()
	}
	hctx, cancel := context.WithTimeout(ctx, c.cl.tlsHandshakeTimeout())
	defer cancel()
	tc := tls.Client(c.nc, conf)
	err := tc.HandshakeContext(hctx)
	var st tls.ConnectionState
	if err == nil {
		st = tc.ConnectionState()
		if p := st.NegotiatedProtocol; p != "" && p != "http/1.1" {
			err = fmt.Errorf("%w: %q", ErrBadALPN, p)
		}
	}
	if tr != nil && tr.TLSDone != nil {
		if err == nil {
			tr.TLSDone(&st, nil)
		} else {
			tr.TLSDone(nil, err)
		}
	}
	if err != nil {
		return err
	}
	c.tls = tc
	c.nc = tc
	c.tlsState = &st
	return nil
}
