//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/lab/dumbproxy"
	"github.com/hop-http/hop/lab/netlab"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// browserOutcome is what the 1.0-era browser of the dumb-proxy experiment saw for
// two requests to the same origin through a proxy.
type browserOutcome struct {
	first     time.Duration // the first request, connection included
	keepAlive bool          // the first response said Connection: keep-alive
	reused    bool          // the second request went on the same connection
	hung      time.Duration // how long the second request waited for nothing
	secondOK  bool          // the second request got its response in the end
	second    time.Duration // from sending the second request to its response (retry included)
	retried   bool          // it had to be sent again on a new connection
}

// runDumbProxy sends two HTTP/1.0 requests through a blind-forwarding proxy, first
// asking for keep-alive with Connection, then with Proxy-Connection; then the same
// through hop's proxy.
func runDumbProxy(e *env) error {
	rtt := e.rtt()
	idle := 2 * time.Second
	if e.short {
		idle = time.Second
	}
	web, prox := e.host("web"), e.host("proxy")
	if _, _, err := e.startServer("web", 80, webHandler(), func(s *server.Server) { s.IdleTimeout = idle }); err != nil {
		return err
	}
	ln, err := prox.Listen("tcp", ":3128")
	if err != nil {
		return err
	}
	dp := &dumbproxy.Proxy{Dial: prox.Dial}
	done := make(chan struct{})
	go func() { dp.Serve(ln); close(done) }()
	e.cleanup(func() { ln.Close(); <-done })
	proxyAddr := ln.Addr().String()
	target := "http://" + web.Addr.String() + "/"

	// hop's proxy on the same host: a server whose handler forwards through hop's
	// client, with persistent connections on each side and the hop-by-hop fields
	// removed.
	hopAddr := net.JoinHostPort(prox.Addr.String(), "8080")
	upstream := &client.Client{Dial: prox.Dial}
	e.cleanup(func() { upstream.Close() })
	if _, _, err := e.startServer("proxy", 8080, &proxy.Proxy{
		Exchanger: &proxy.Transport{Client: upstream},
		AllowFrom: []netip.Prefix{netlab.Subnet},
	}, func(s *server.Server) { s.IdleTimeout = idle }); err != nil {
		return err
	}

	var ka, pc, hka, hpc browserOutcome
	for _, l := range []struct {
		name, addr, field string
		out               *browserOutcome
	}{
		{"Connection: keep-alive through the dumb proxy", proxyAddr, "Connection", &ka},
		{"Proxy-Connection: keep-alive through the dumb proxy", proxyAddr, "Proxy-Connection", &pc},
		{"Connection: keep-alive through hop proxy", hopAddr, "Connection", &hka},
		{"Proxy-Connection: keep-alive through hop proxy", hopAddr, "Proxy-Connection", &hpc},
	} {
		if err := e.leg(l.name, func() (err error) {
			*l.out, err = e.browse(l.addr, target, l.field, idle)
			return err
		}); err != nil {
			return err
		}
	}

	// Through one proxy a new connection costs the client–proxy handshake, the
	// request's way to the proxy, the proxy–origin handshake, the exchange with the
	// origin and the response's way back: 4 RTT.
	e.measureMs("keepalive_first_ms", "Connection: keep-alive, first request", ka.first, 4*rtt)
	e.measurePred("keepalive_reused", "Connection: keep-alive, second request on the same connection (1/0)", "", b2f(ka.reused), 1)
	e.measureMs("keepalive_hung_ms", "Connection: keep-alive, second request waited for nothing", ka.hung, idle)
	e.measureMs("keepalive_second_ms", "Connection: keep-alive, second request answered after", ka.second, idle+4*rtt)
	e.measureMs("proxy_connection_first_ms", "Proxy-Connection, first request", pc.first, 4*rtt)
	e.measurePred("proxy_connection_reused", "Proxy-Connection, second request on the same connection (1/0)", "", b2f(pc.reused), 0)
	e.measureMs("proxy_connection_second_ms", "Proxy-Connection, second request (a new connection)", pc.second, 4*rtt)

	e.measureMs("hop_keepalive_first_ms", "hop proxy, Connection: keep-alive, first request", hka.first, 4*rtt)
	e.measurePred("hop_keepalive_reused", "hop proxy, Connection: keep-alive, second request on the same connection (1/0)", "", b2f(hka.reused), 1)
	e.measureMs("hop_keepalive_second_ms", "hop proxy, Connection: keep-alive, second request (both sides reused)", hka.second, 2*rtt)
	e.measurePred("hop_proxy_connection_reused", "hop proxy, Proxy-Connection, second request on the same connection (1/0)", "", b2f(hpc.reused), 0)
	e.measureMs("hop_proxy_connection_second_ms", "hop proxy, Proxy-Connection, second request (new client connection, reused upstream)", hpc.second, 3*rtt)

	e.check(ka.keepAlive, "the origin's Connection: keep-alive reached the client through the dumb proxy")
	e.check(ka.reused && ka.hung >= idle*8/10, "the second request on the kept connection hung for %s (the origin's idle timeout is %s)", fmtMs(ka.hung), fmtMs(idle))
	e.check(ka.secondOK && ka.retried, "the second request succeeded only when sent again on a new connection")
	e.check(!pc.keepAlive && !pc.reused, "with Proxy-Connection the origin did not keep the connection, so neither did the client")
	e.near("Proxy-Connection, second request", pc.second, 4*rtt, tolerance(4*rtt))
	e.check(hka.keepAlive && hka.reused && !hka.retried && hka.hung == 0,
		"through hop proxy the kept connection answered the second request (no hang, no retry)")
	e.near("hop proxy, second request", hka.second, 2*rtt, tolerance(2*rtt))
	e.check(!hpc.retried && hpc.hung == 0, "through hop proxy Proxy-Connection did not hang either")
	e.near("hop proxy, Proxy-Connection, second request", hpc.second, 3*rtt, tolerance(3*rtt))
	labels := []string{"dumb, Connection", "dumb, Proxy-Connection", "hop, Connection", "hop, Proxy-Connection"}
	e.plot(Plot{Title: "The second request answered after", XLabel: "proxy and keep-alive field", YLabel: "ms", Kind: "bar", Series: []Series{
		{Name: "measured", Labels: labels, Y: []float64{timeline.Millis(ka.second), timeline.Millis(pc.second), timeline.Millis(hka.second), timeline.Millis(hpc.second)}},
		{Name: "predicted", Labels: labels, Y: []float64{timeline.Millis(idle + 4*rtt), timeline.Millis(4 * rtt), timeline.Millis(2 * rtt), timeline.Millis(3 * rtt)}, Dashed: true},
	}})
	e.note("the dumb proxy forwarded Connection: keep-alive: the second request hung %s until the origin's idle timeout; Proxy-Connection avoided the hang at the price of a new connection (%s); hop proxy kept both sides persistent and answered the second request in %s",
		fmtMs(ka.hung), fmtMs(pc.second), fmtMs(hka.second))
	return nil
}

// browse plays a 1.0-era browser behind a proxy: it requests target twice with field
// (Connection or Proxy-Connection) set to keep-alive, reusing the connection when the
// response says keep-alive, and sending the request again on a new connection if the
// kept one ends without an answer. idle is the origin's idle timeout (the second
// request waits at most that long plus 5 s).
func (e *env) browse(proxyAddr, target, field string, idle time.Duration) (browserOutcome, error) {
	var out browserOutcome
	req := rawHead("GET", target, 0, "Host", hostOf(target), "User-Agent", "Mozilla/3.0 (hop lab)", field, "keep-alive")
	exchange := func(rc *rawConn, wait time.Duration) (*rawResponse, error) {
		rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := rc.c.Write(req); err != nil {
			return nil, err
		}
		return rc.read("GET", time.Now().Add(wait))
	}
	dial := func() (*rawConn, error) {
		c, err := e.dialRaw(proxyAddr)
		if err != nil {
			return nil, err
		}
		e.cleanup(func() { c.Close() })
		return newRawConn(e.ctx, c), nil
	}
	start := time.Now()
	rc, err := dial()
	if err != nil {
		return out, err
	}
	resp, err := exchange(rc, 10*time.Second)
	if err != nil {
		return out, fmt.Errorf("first request: %w", err)
	}
	out.first = time.Since(start)
	out.keepAlive = resp.KeepAlive
	e.event("client", "first response", resp.Done)

	second := time.Now()
	if resp.KeepAlive {
		out.reused = true
		resp, err = exchange(rc, idle+5*time.Second)
		if err == nil {
			out.secondOK, out.second = true, time.Since(second)
			return out, nil
		}
		var ne net.Error
		if !errors.Is(err, errNoResponse) && !isReset(err) && !(errors.As(err, &ne) && ne.Timeout()) {
			return out, fmt.Errorf("second request: %w", err)
		}
		out.hung = time.Since(second)
		e.event("client", "kept connection ended without a response", time.Now())
		out.retried = true
	}
	rc.c.Close()
	if rc, err = dial(); err != nil {
		return out, err
	}
	if _, err = exchange(rc, 10*time.Second); err != nil {
		return out, fmt.Errorf("second request, new connection: %w", err)
	}
	out.secondOK, out.second = true, time.Since(second)
	return out, nil
}

// hostOf returns the authority of an absolute URL, its Host field.
func hostOf(url string) string { return wire.SplitURI(url).Authority }
