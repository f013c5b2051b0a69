package proxy

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/hop-http/hop/server"
)

// DefaultConnectTimeout bounds the connection set-up of a CONNECT tunnel when
// Proxy.ConnectTimeout is 0.
const DefaultConnectTimeout = 10 * time.Second

// connect serves CONNECT host:port: it connects to the target, answers 200 and relays
// bytes both ways until both sides are done (see tunnel).
func (p *Proxy) connect(w *server.ResponseWriter, r *server.Request, x *Exchange, rec *record) {
	if p.Reverse {
		rec.kind = "bad_request"
		p.answer(w, 405, "", "CONNECT is not served by a reverse proxy")
		return
	}
	target := string(r.Target)
	host, port, err := net.SplitHostPort(target)
	n, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		rec.kind = "bad_request"
		p.answer(w, 400, "", "CONNECT wants host:port")
		return
	}
	if !p.connectAllowed(n) {
		rec.kind = "denied"
		w.CloseAfter()
		p.answer(w, 403, "", "CONNECT to port "+port+" is not allowed (--connect-ports)")
		return
	}
	x.Upstream.Name = target
	timeout := p.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dial := p.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
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
	nc, head, err := w.TakeOver()
	if err != nil {
		up.Close()
		rec.kind, rec.err = "takeover_failed", err
		return
	}
	rec.tunnel = true
	rec.tunnelStats, rec.err = tunnel(nc, up, head)
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
	switch {
	case isTimeout(err):
		return 504, "connection_timeout"
	case errors.As(err, &dnsErr):
		return 502, "dns_error"
	case errors.Is(err, syscall.ECONNREFUSED):
		return 502, "connection_refused"
	}
	return 502, "destination_unavailable"
}
