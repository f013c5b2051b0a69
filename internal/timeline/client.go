package timeline

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hop-http/hop/client"
)

// ClientPhases returns the phases of t in order: dns, connect, tls, request (from
// getting the connection to the end of writing), wait (to the first response byte)
// and transfer (to the end of the body).
func ClientPhases(t *client.Timings) []Phase {
	return []Phase{
		{"dns", t.DNSStart, t.DNSDone},
		{"connect", t.ConnectStart, t.ConnectDone},
		{"tls", t.TLSStart, t.TLSDone},
		{"request", t.GotConn, t.WroteRequest},
		{"wait", t.WroteRequest, t.FirstByte},
		{"transfer", t.FirstByte, t.Done},
	}
}

// ClientTrace returns a client.Trace that describes each event of one request in words
// to sink: resolution, connection attempts, TLS, reuse, both heads line by line, the
// end of the exchange and why a connection was kept or closed, retries and redirects.
// The events carry req and, once the request has a connection, its number. Chain it
// with [client.Timings.Trace] to record the phases as well.
func ClientTrace(sink Sink, req int) *client.Trace {
	var (
		mu       sync.Mutex // the trace's callbacks are sequential, but be safe
		conn     uint64
		dnsStart time.Time
	)
	emit := func(k Kind, text string) {
		sink.Event(Event{At: time.Now(), Req: req, Conn: conn, Kind: k, Text: text})
	}
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		emit(Note, fmt.Sprintf(format, a...))
	}
	head := func(k Kind, h []byte) {
		mu.Lock()
		defer mu.Unlock()
		for _, line := range strings.SplitAfter(string(h), "\r\n") {
			if line == "" {
				continue
			}
			emit(k, strings.TrimRight(line, "\r\n"))
		}
	}
	setConn := func(id uint64) {
		mu.Lock()
		conn = id
		mu.Unlock()
	}
	return &client.Trace{
		GetConn: func(origin string) {
			setConn(0) // a new attempt: its connection is not known yet
			say("connection to %s wanted", origin)
		},
		PoolWait: func() { say("per-host connection limit reached: waiting for a free connection") },
		DNSStart: func(host string) {
			mu.Lock()
			dnsStart = time.Now()
			mu.Unlock()
			say("resolving %s", host)
		},
		DNSDone: func(i client.DNSInfo) {
			if i.Err != nil {
				say("could not resolve %s: %v", i.Host, i.Err)
				return
			}
			addrs := make([]string, len(i.Addrs))
			for k, a := range i.Addrs {
				addrs[k] = a.String()
			}
			mu.Lock()
			took := time.Since(dnsStart)
			mu.Unlock()
			say("resolved %s to %s (%s, %.3f ms)", i.Host, strings.Join(addrs, ", "), i.Source, Millis(took))
		},
		ConnectStart: func(a netip.AddrPort) { say("connecting to %s", a) },
		ConnectDone: func(a netip.AddrPort, err error) {
			if err != nil {
				say("connecting to %s failed: %v", a, err)
			}
		},
		ProxyConnect: func(proxy, target string, err error) {
			if err != nil {
				say("CONNECT %s through %s failed: %v", target, proxy, err)
				return
			}
			say("tunnel to %s opened through proxy %s", target, proxy)
		},
		TLSStart: func() { say("TLS handshake") },
		TLSDone: func(s *tls.ConnectionState, err error) {
			if err != nil {
				say("TLS handshake failed: %v", err)
				return
			}
			resumed := "new session"
			if s.DidResume {
				resumed = "resumed session"
			}
			alpn := s.NegotiatedProtocol
			if alpn == "" {
				alpn = "none"
			}
			say("%s, %s, ALPN %s, %s, server name %q", tls.VersionName(s.Version),
				tls.CipherSuiteName(s.CipherSuite), alpn, resumed, s.ServerName)
		},
		GotConn: func(i client.ConnInfo) {
			setConn(i.ID)
			via := ""
			if i.Proxy != "" {
				via = " via proxy " + i.Proxy
			}
			if i.Reused {
				say("reusing conn #%d to %s%s (idle %.3f ms, request %d on it)", i.ID, i.RemoteAddr, via,
					Millis(i.IdleTime), i.Requests)
				return
			}
			say("connected to %s as conn #%d (local %s)%s", i.RemoteAddr, i.ID, i.LocalAddr, via)
		},
		WroteHead:      func(h []byte) { head(Sent, h) },
		Got100Continue: func() { say("server said 100 Continue: sending the body") },
		GotHead:        func(h []byte) { head(Received, h) },
		Done: func(i client.DoneInfo) {
			if i.ConnID != 0 {
				setConn(i.ConnID)
			}
			switch {
			case i.KeptAlive:
				say("conn #%d kept alive (%d body bytes)", i.ConnID, i.BodyBytes)
			case i.Err != nil:
				say("closing conn #%d: %v", i.ConnID, i.Err)
			default:
				say("closing conn #%d: %s", i.ConnID, i.CloseReason)
			}
		},
		Retry: func(n int, err error) {
			say("retry %d on another connection: %v", n, err)
		},
		Redirect: func(status int, to string) { say("redirect (%d) to %s", status, to) },
	}
}
