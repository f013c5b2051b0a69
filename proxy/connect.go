package proxy

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/neterr"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// DefaultConnectTimeout bounds the connection set-up of a CONNECT tunnel when
// Proxy.ConnectTimeout is 0.
const DefaultConnectTimeout = 10 * time.Second

// defaultDialer connects CONNECT tunnels when Proxy.Dial is nil: hop's resolver, Happy
// Eyeballs, TCP_NODELAY.
var defaultDialer = &client.Dialer{Timeout: -1} // the caller's context bounds it

// connect serves CONNECT host:port: it connects to the target, answers 200 and relays
// bytes both ways until both sides are done (see tunnel).
func (p *Proxy) connect(w *server.ResponseWriter, r *server.Request, x *Exchange, rec *record) {
	if p.Reverse {
		rec.kind = "bad_request"
		p.answer(w, 405, "", "CONNECT is not served by a reverse proxy")
		return
	}
	// The server parsed the authority-form target already (wire.ParseTarget: a host
	// and a port 1–65535); parsing it again here only takes its parts.
	t, err := wire.ParseTarget(r.Method, r.Target)
	if err != nil || t.Form != wire.FormAuthority {
		rec.kind = "bad_request"
		p.answer(w, 400, "", "CONNECT wants host:port")
		return
	}
	if !p.connectAllowed(t.Authority.PortNumber) {
		rec.kind = "denied"
		w.CloseAfter()
		p.answer(w, 403, "", "CONNECT to port "+string(t.Authority.Port)+" is not allowed (--connect-ports)")
		return
	}
	lt := p.reserveTunnel(w, rec)
	if lt == nil {
		return
	}
	defer lt.done()
	target := string(r.Target)
	x.Upstream.Name = target
	timeout := p.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dial := p.Dial
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	start := time.Now()
	up, err := dial(ctx, "tcp", target)
	x.Upstream.Head = time.Since(start)
	if err != nil {
		status, kind := dialStatus(err)
		rec.kind, rec.err = kind, err
		p.answer(w, status, kind, errorText(status))
		return
	}
	x.Upstream.Addr = up.RemoteAddr()
	w.WriteHeader(200)
	p.relay(w, up, nil, lt, rec)
}

// relay takes the client's connection over (its response head, set up by the caller,
// goes out first) and tunnels it with up; early holds bytes the upstream already sent
// past its own head, which go to the client first. lt is the tunnel's reservation
// (Shutdown waits for it, then closes its connections).
func (p *Proxy) relay(w *server.ResponseWriter, up net.Conn, early []byte, lt *liveTunnel, rec *record) {
	nc, head, err := w.TakeOver()
	if err != nil {
		up.Close()
		rec.kind, rec.err = "takeover_failed", err
		return
	}
	lt.attach(nc, up)
	rec.tunnel = true
	if len(early) > 0 {
		n, err := nc.Write(early)
		rec.tunnelStats.Down += int64(n)
		if err != nil {
			nc.Close()
			up.Close()
			rec.err = err
			return
		}
	}
	st, err := tunnel(nc, up, head, p.tunnelIdle())
	rec.tunnelStats.Up += st.Up
	rec.tunnelStats.Down += st.Down
	if err == errTunnelIdle {
		p.tunnels.idleClosed.Add(1)
		rec.kind = "tunnel_idle_timeout"
	} else {
		rec.err = err
	}
}

// reserveTunnel reserves a tunnel, or answers 503 and returns nil when the proxy is
// shutting down or MaxTunnels are open.
func (p *Proxy) reserveTunnel(w *server.ResponseWriter, rec *record) *liveTunnel {
	lt, err := p.tunnels.reserve(p.maxTunnels())
	switch err {
	case nil:
		return lt
	case errTunnelLimit:
		rec.kind = "tunnel_limit"
		w.CloseAfter()
		p.answer(w, 503, "", "service unavailable: too many tunnels open (--max-tunnels)")
	default:
		rec.kind = "shutting_down"
		w.CloseAfter()
		p.answer(w, 503, "", "the proxy is shutting down: no new tunnels")
	}
	return nil
}

func (p *Proxy) connectAllowed(port int) bool {
	if len(p.ConnectPorts) == 0 {
		return port == 443
	}
	for _, q := range p.ConnectPorts {
		if q == port {
			return true
		}
	}
	return false
}

// dialStatus maps a failed connection set-up to a status and a Proxy-Status error type.
func dialStatus(err error) (int, string) {
	var dnsErr *net.DNSError
	var de *client.DialError
	resolving := errors.As(err, &dnsErr) || errors.As(err, &de) && de.Op == "resolve"
	switch {
	case neterr.IsTimeout(err):
		if resolving {
			return 504, "dns_timeout"
		}
		return 504, "connection_timeout"
	case resolving:
		return 502, "dns_error"
	case errors.Is(err, syscall.ECONNREFUSED):
		return 502, "connection_refused"
	}
	return 502, "destination_unavailable"
}

// upgrade completes a 101 Switching Protocols from the upstream: the client gets the
// 101 with the upstream's Upgrade and end-to-end fields, then the two connections are
// tunnelled (bytes that came with either head go first).
func (p *Proxy) upgrade(w *server.ResponseWriter, x *Exchange, rec *record) {
	sc := x.Resp.SwitchedConn()
	if sc == nil || !x.In.Upgrade {
		if sc != nil {
			sc.Close()
		}
		rec.kind = "http_protocol_error"
		p.answer(w, 502, rec.kind, errorText(502))
		return
	}
	lt := p.reserveTunnel(w, rec)
	if lt == nil {
		sc.Close()
		return
	}
	defer lt.done()
	up, early := sc.TakeOver()
	wh := w.Header()
	rh := &x.Resp.Header
	for i := 0; i < rh.Len(); i++ {
		n, v := rh.At(i)
		wire.Add(wh, n, v)
	}
	wire.Add(wh, "Via", p.via[min(int(x.Resp.Minor), 1)])
	w.WriteHeader(101)
	p.relay(w, up, early, lt, rec)
}
