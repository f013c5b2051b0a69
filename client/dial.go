package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/hop-http/hop/wire"
)

// dial sets up a new connection for the pool: resolve, connect (Happy Eyeballs), the
// CONNECT tunnel when an https origin is reached through a proxy, then TLS, all under
// one deadline (ConnectTimeout, or the request's deadline when nearer). The slot is
// already counted in p.open and p.dialing.
func (p *hostPool) dial(ctx context.Context, deadline time.Time, tr *Trace, tm *Timings) (*conn, error) {
	c, err := p.dialConn(ctx, deadline, tr, tm)
	if err != nil {
		p.dialFailed()
		return nil, err
	}
	p.dialed()
	return c, nil
}

func (p *hostPool) dialConn(ctx context.Context, deadline time.Time, tr *Trace, tm *Timings) (*conn, error) {
	d := p.cl.dialer()
	dctx, cancel := d.withTimeout(ctx)
	defer cancel()
	if !deadline.IsZero() {
		var cancel2 context.CancelFunc
		dctx, cancel2 = context.WithDeadline(dctx, deadline)
		defer cancel2()
	}
	for attempt := 0; ; attempt++ {
		c, err := p.setUp(dctx, d, tr, tm)
		var pe *ProxyError
		if err != nil && attempt == 0 && errors.As(err, &pe) && pe.Status == 407 && p.retryTunnelWithAuth(pe) {
			// The proxy wants the credentials of its URL: a new connection sends them.
			if tr != nil && tr.Retry != nil {
				tr.Retry(1, errProxyAuth)
			}
			continue
		}
		return c, err
	}
}

// setUp opens one connection: TCP, the tunnel through a proxy for https, then TLS.
func (p *hostPool) setUp(ctx context.Context, d *Dialer, tr *Trace, tm *Timings) (*conn, error) {
	cl := p.cl
	host, port := p.key.host, p.key.port
	if p.proxyURL != nil {
		host, port = p.proxyURL.Host, p.proxyURL.EffectivePort()
	}
	nc, err := d.connect(ctx, host, port, tr, tm)
	if err != nil {
		var de *DialError
		if errors.As(err, &de) {
			return nil, &connErr{op: de.Op, err: de.Err}
		}
		return nil, &connErr{op: "connect", err: err}
	}
	tcp, _ := nc.(*net.TCPConn)
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
	deadline, _ := ctx.Deadline()
	if p.proxyURL != nil && p.key.scheme == "https" {
		err := c.tunnel(ctx, deadline, p.key.host, p.key.port, p.auth())
		if tr != nil && tr.ProxyConnect != nil {
			tr.ProxyConnect(c.proxy, net.JoinHostPort(p.key.host, p.key.port), err)
		}
		if err != nil {
			nc.Close()
			return nil, &connErr{op: "proxy", err: err}
		}
	}
	if p.key.scheme == "https" {
		tc, st, err := handshake(ctx, c.nc, p.tlsConfig(), tr, tm)
		if err != nil {
			nc.Close()
			return nil, &connErr{op: "tls", err: err}
		}
		c.tls, c.nc, c.tlsState = tc, tc, st
	}
	return c, nil
}

// retryTunnelWithAuth is retryWithAuth for a CONNECT that got 407.
func (p *hostPool) retryTunnelWithAuth(pe *ProxyError) bool {
	if p.proxyAuth == "" || p.authOn == nil || p.authOn.Load() {
		return false
	}
	for _, v := range pe.Authenticate {
		if offersBasic([]byte(v)) {
			p.authOn.Store(true)
			return true
		}
	}
	return false
}

// tunnel asks the proxy on c to open a tunnel to host:port (CONNECT, RFC 9110 §9.3.6),
// before deadline, sending auth as Proxy-Authorization unless empty. A refusal is a
// *ProxyError. The wait ends when ctx is done, as an exchange's does (the tunnel is set
// up before the request's exchange begins).
func (c *conn) tunnel(ctx context.Context, deadline time.Time, host, port, auth string) error {
	c.deadline, c.method, c.n1xx = deadline, "CONNECT", 0
	c.ctx = ctx
	c.canceled.Store(false)
	defer func() {
		c.deadline, c.method, c.ctx = time.Time{}, "", nil
		c.nc.SetDeadline(time.Time{})
		c.rd.Forget()
		c.wd.Forget()
	}()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			c.canceled.Store(true)
			c.nc.SetDeadline(aLongTimeAgo)
		})
		defer stop() // before the deadline is cleared: a canceled ctx fails the TLS handshake next
	}
	target := net.JoinHostPort(host, port)
	b := wire.AppendRequestLine(c.wbuf[:0], "CONNECT", target, 1)
	b = wire.AppendField(b, "Host", target)
	if auth != "" {
		b = wire.AppendField(b, "Proxy-Authorization", auth)
	}
	b = append(b, '\r', '\n')
	c.wbuf = b
	if err := c.write(b); err != nil {
		return err
	}
	n, err := c.readHead(false)
	if err != nil {
		return err
	}
	if st := c.head.Status; st < 200 || st >= 300 {
		pe := &ProxyError{Proxy: c.proxy, Target: target, Status: st, Reason: string(c.head.Reason)}
		c.head.Header.Values("Proxy-Authenticate", func(v []byte) { pe.Authenticate = append(pe.Authenticate, string(v)) })
		return pe
	}
	c.in.Consume(n)
	if c.in.Len() != 0 {
		return errors.New("proxy sent data after its CONNECT response")
	}
	c.in.Reset()
	return nil
}

// tlsConfig returns the pool's TLS configuration: Client.TLSConfig (or defaults) with
// SNI set to the host, ALPN http/1.1 and the client's session cache.
func (p *hostPool) tlsConfig() *tls.Config {
	p.tlsOnce.Do(func() {
		cl := p.cl
		conf := tlsConfigFor(cl.TLSConfig, p.key.host)
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
