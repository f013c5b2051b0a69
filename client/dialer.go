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
)

// Dialer opens connections the way the Client's pools do: the host name is resolved
// (Resolve overrides, IP literals, then the Resolver: /etc/hosts, a TTL cache, DNS),
// the addresses are raced as RFC 8305 (Happy Eyeballs) describes, TCP_NODELAY is set,
// and for TLS the handshake follows (SNI from the host, ALPN http/1.1). One deadline
// covers all of it: Timeout from the start of the call, or the context's deadline when
// that comes first. The zero value is ready to use; a Dialer is safe for concurrent
// use and its fields must not change while it is in use.
//
// A Client builds its own Dialer from its fields (ConnectTimeout, Resolver, Resolve,
// Dial as DialFunc, HappyEyeballsDelay, DisableNoDelay); proxy/ and lab/ use one directly.
type Dialer struct {
	// Timeout bounds a whole dial: resolution, connection set-up and TLS handshake.
	// 0 means DefaultConnectTimeout, negative means no limit but the context's.
	Timeout time.Duration
	// HappyEyeballsDelay is the delay before the next address is tried while an
	// attempt is pending (RFC 8305 §5); 0 means DefaultHappyEyeballsDelay, negative
	// turns the race off (each address is tried only after the previous one failed).
	HappyEyeballsDelay time.Duration
	// Resolver resolves host names; nil means resolve.Default.
	Resolver *resolve.Resolver
	// Resolve overrides resolution for "host:port" keys (IPv6 hosts in brackets),
	// like curl's --resolve.
	Resolve map[string][]netip.Addr
	// DialFunc, if set, replaces net.Dialer for each TCP connection attempt (to an
	// address, after resolution).
	DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
	// DisableNoDelay leaves Nagle's algorithm on (TCP_NODELAY is set by default).
	DisableNoDelay bool
	// TLSConfig is the configuration DialContext's callers get from DialTLSContext;
	// nil means the system roots. DialTLS takes its configuration as an argument.
	TLSConfig *tls.Config
}

// Dial connects to address ("host:port") over TCP. tr, if set, receives the DNS and
// connect events. A failure is a *DialError saying which phase failed.
func (d *Dialer) Dial(ctx context.Context, address string, tr *Trace) (net.Conn, error) {
	host, port, err := splitAddress(address)
	if err != nil {
		return nil, err
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	return d.connect(ctx, host, port, tr, nil)
}

// DialTLS connects to address ("host:port") and runs the TLS handshake with conf (nil
// means the system roots; ServerName defaults to the host), under the same deadline as
// the connection set-up. tr, if set, receives the DNS, connect and TLS events. A
// failure is a *DialError saying which phase failed.
func (d *Dialer) DialTLS(ctx context.Context, address string, conf *tls.Config, tr *Trace) (*tls.Conn, error) {
	host, port, err := splitAddress(address)
	if err != nil {
		return nil, err
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	nc, err := d.connect(ctx, host, port, tr, nil)
	if err != nil {
		return nil, err
	}
	tc, _, err := handshake(ctx, nc, tlsConfigFor(conf, host), tr, nil)
	if err != nil {
		nc.Close()
		return nil, &DialError{Op: "tls", Address: address, Err: err}
	}
	return tc, nil
}

// DialContext is Dial with net.Dialer's signature, for code that takes a dial
// function (net/http's Transport, resolve.Resolver.Dial). network must be "tcp",
// "tcp4" or "tcp6" (the last two keep only that family's addresses).
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp":
		return d.Dial(ctx, address, nil)
	case "tcp4", "tcp6":
		return d.dialFamily(ctx, network, address)
	}
	return nil, &DialError{Op: "connect", Address: address, Err: errors.New("unsupported network " + strconv.Quote(network))}
}

// DialTLSContext is DialTLS with d.TLSConfig and net/http's DialTLSContext signature.
func (d *Dialer) DialTLSContext(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" {
		return nil, &DialError{Op: "connect", Address: address, Err: errors.New("unsupported network " + strconv.Quote(network))}
	}
	return d.DialTLS(ctx, address, d.TLSConfig, nil)
}

// dialFamily dials only the addresses of network's family.
func (d *Dialer) dialFamily(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := splitAddress(address)
	if err != nil {
		return nil, err
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	addrs, _, err := d.lookup(ctx, host, port)
	if err != nil {
		return nil, &DialError{Op: "resolve", Address: address, Err: err}
	}
	var keep []netip.Addr
	for _, a := range addrs {
		if a.Unmap().Is4() == (network == "tcp4") {
			keep = append(keep, a)
		}
	}
	if len(keep) == 0 {
		return nil, &DialError{Op: "resolve", Address: address, Err: fmt.Errorf("no %s address for %s", network, host)}
	}
	dd := *d
	dd.Resolve = map[string][]netip.Addr{net.JoinHostPort(host, port): keep}
	return dd.connect(ctx, host, port, nil, nil)
}

func splitAddress(address string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(address)
	if err != nil {
		return "", "", &DialError{Op: "connect", Address: address, Err: err}
	}
	if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
		return "", "", &DialError{Op: "connect", Address: address, Err: errors.New("invalid port " + strconv.Quote(port))}
	}
	return host, port, nil
}

// withTimeout applies Timeout to ctx.
func (d *Dialer) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if t := durOr(d.Timeout, DefaultConnectTimeout); t > 0 {
		return context.WithTimeout(ctx, t)
	}
	return ctx, func() {}
}

// connect resolves host and opens a TCP connection to one of its addresses. The
// phases go to tr and tm (each may be nil).
func (d *Dialer) connect(ctx context.Context, host, port string, tr *Trace, tm *Timings) (net.Conn, error) {
	address := net.JoinHostPort(host, port)
	if tr != nil && tr.DNSStart != nil {
		tr.DNSStart(host)
	}
	if tm != nil {
		tm.DNSStart = time.Now()
	}
	addrs, source, err := d.lookup(ctx, host, port)
	if tm != nil {
		tm.DNSDone = time.Now()
	}
	if tr != nil && tr.DNSDone != nil {
		tr.DNSDone(DNSInfo{Host: host, Addrs: addrs, Source: source, Err: err})
	}
	if err != nil {
		return nil, &DialError{Op: "resolve", Address: address, Err: err}
	}
	portNum, _ := strconv.ParseUint(port, 10, 16)
	if tm != nil {
		tm.ConnectStart = time.Now()
	}
	nc, err := d.race(ctx, resolve.Interleave(addrs), uint16(portNum), tr)
	if err != nil {
		return nil, &DialError{Op: "connect", Address: address, Err: err}
	}
	if tm != nil {
		tm.ConnectDone = time.Now()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		tcp.SetNoDelay(!d.DisableNoDelay)
	}
	return nc, nil
}

// lookup resolves host, honouring the Resolve overrides.
func (d *Dialer) lookup(ctx context.Context, host, port string) ([]netip.Addr, string, error) {
	if d.Resolve != nil {
		if a, ok := d.Resolve[net.JoinHostPort(host, port)]; ok && len(a) > 0 {
			return a, "override", nil
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, resolve.SourceLiteral, nil
	}
	r := d.Resolver
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

// race opens a TCP connection to one of addrs (already interleaved by family), racing
// them as RFC 8305 describes: the next address is tried when the previous attempt
// failed or after HappyEyeballsDelay without an answer; the first connection
// established wins and the others are abandoned and closed.
func (d *Dialer) race(ctx context.Context, addrs []netip.Addr, port uint16, tr *Trace) (net.Conn, error) {
	nd := net.Dialer{KeepAlive: 30 * time.Second}
	dialOne := func(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
		if d.DialFunc != nil {
			return d.DialFunc(ctx, "tcp", ap.String())
		}
		return nd.DialContext(ctx, "tcp", ap.String())
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
	closeLosers := func(n int) {
		go func() {
			for range n {
				if l := <-results; l.err == nil {
					l.nc.Close()
				}
			}
		}()
	}
	delay := durOr(d.HappyEyeballsDelay, DefaultHappyEyeballsDelay)
	var timer *time.Timer
	var tick <-chan time.Time
	if delay > 0 {
		timer = time.NewTimer(delay)
		defer timer.Stop()
		tick = timer.C
	}
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
					closeLosers(inflight)
				}
				return r.nc, nil
			}
			errs = append(errs, r.err)
			if next < len(addrs) {
				start()
				if timer != nil {
					timer.Reset(delay)
				}
			} else if inflight == 0 {
				return nil, errors.Join(errs...)
			}
		case <-tick:
			if next < len(addrs) {
				start()
				timer.Reset(delay)
			}
		case <-ctx.Done():
			cancel()
			closeLosers(inflight)
			return nil, ctx.Err()
		}
	}
}

// tlsConfigFor returns conf (or a default) with ServerName set to host when empty and
// ALPN set to http/1.1.
func tlsConfigFor(conf *tls.Config, host string) *tls.Config {
	if conf == nil {
		conf = &tls.Config{}
	} else {
		conf = conf.Clone()
	}
	if conf.ServerName == "" {
		if i := strings.IndexByte(host, '%'); i >= 0 {
			host = host[:i]
		}
		conf.ServerName = host
	}
	if len(conf.NextProtos) == 0 {
		conf.NextProtos = []string{"http/1.1"}
	}
	return conf
}

// handshake runs the TLS handshake over nc under ctx's deadline. It reports to tr and
// tm (each may be nil). A server that negotiates another protocol than http/1.1 is an
// error when conf asks for http/1.1 only.
func handshake(ctx context.Context, nc net.Conn, conf *tls.Config, tr *Trace, tm *Timings) (*tls.Conn, *tls.ConnectionState, error) {
	if tr != nil && tr.TLSStart != nil {
		tr.TLSStart()
	}
	if tm != nil {
		tm.TLSStart = time.Now()
	}
	tc := tls.Client(nc, conf)
	err := tc.HandshakeContext(ctx)
	var st tls.ConnectionState
	if err == nil {
		st = tc.ConnectionState()
		if p := st.NegotiatedProtocol; p != "" && p != "http/1.1" && len(conf.NextProtos) == 1 && conf.NextProtos[0] == "http/1.1" {
			err = fmt.Errorf("%w: %q", ErrBadALPN, p)
		}
	}
	if tm != nil {
		tm.TLSDone = time.Now()
	}
	if tr != nil && tr.TLSDone != nil {
		if err == nil {
			tr.TLSDone(&st, nil)
		} else {
			tr.TLSDone(nil, err)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return tc, &st, nil
}
