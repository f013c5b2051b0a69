package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hop-http/hop/cache"
	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/proxy"
	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

func init() { commands["proxy"] = cmdProxy }

// cmdProxy runs `hop proxy` until SIGINT or SIGTERM, then shuts down gracefully.
func cmdProxy(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return runProxy(ctx, args, os.Stdout, os.Stderr, nil)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// prefixFlag is a repeatable CIDR flag (a bare address means a single host).
type prefixFlag []netip.Prefix

func (l *prefixFlag) String() string {
	s := make([]string, len(*l))
	for i, p := range *l {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l *prefixFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			*l = append(*l, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return fmt.Errorf("want a CIDR such as 10.0.0.0/8 or an address, not %q", part)
		}
		*l = append(*l, netip.PrefixFrom(a, a.BitLen()))
	}
	return nil
}

// proxyFlags are the flags of `hop proxy`.
type proxyFlags struct {
	*serving
	admin, name         string
	upstreams           listFlag
	balance, hostHeader string
	trust, allowFrom    prefixFlag
	auth, connectPorts  string
	upstreamTimeout     time.Duration
	upstreamBodyTimeout time.Duration
	maxFails            int
	eject               time.Duration
	maxConnsPerHost     int
	ports               []int
	policy              proxy.Policy
	insecureUpstream    bool
	upstreamIdle        time.Duration
	livenessIdle        time.Duration
	maxTunnels          int
	tunnelIdle          time.Duration
	cache               cacheFlags
}

const proxyUsage = `usage: hop proxy [--addr HOST:PORT] [--upstream URL]... [flags]

A forward proxy (absolute-form requests; CONNECT) or, with --upstream, a reverse proxy in front
of those origins. Keeps persistent connections on both sides, removes hop-by-hop fields, adds Via,
and logs each request with its client and upstream connections.
`

func parseProxyFlags(args []string, stderr io.Writer) (*proxyFlags, error) {
	f := proxyFlags{serving: newServing("hop proxy", "127.0.0.1:3128", proxyUsage, "requests in flight and open tunnels", stderr)}
	fs := f.fs
	fs.Var(&f.upstreams, "upstream", "reverse proxy in front of this origin `URL` (repeatable; http or https, optional path prefix)")
	fs.StringVar(&f.balance, "balance", "round-robin", "choice among upstreams: round-robin or least-conn")
	fs.StringVar(&f.hostHeader, "host-header", "", "reverse mode: Host sent upstream; empty passes the client's through, \"upstream\" sends the upstream's authority, anything else is sent as it is")
	fs.Var(&f.trust, "trust", "keep and extend X-Forwarded-*/Forwarded from these peers (`CIDR`, repeatable; reverse mode)")
	fs.Var(&f.allowFrom, "allow-from", "serve clients from this `CIDR` (repeatable; default loopback only)")
	fs.StringVar(&f.auth, "auth", "", "require proxy authentication with these `USER:PASS` credentials (Basic; forward mode)")
	fs.StringVar(&f.connectPorts, "connect-ports", "443", "comma-separated `PORTS` that CONNECT may reach")
	fs.IntVar(&f.maxTunnels, "max-tunnels", proxy.DefaultMaxTunnels, "most CONNECT and upgrade tunnels open at once (503 past it; 0: no bound)")
	fs.DurationVar(&f.tunnelIdle, "tunnel-idle-timeout", proxy.DefaultTunnelIdleTimeout, "close a tunnel that carried no byte either way for this long, or whose peer stopped reading (0: never)")
	fs.DurationVar(&f.upstreamTimeout, "upstream-timeout", 30*time.Second, "bound on connecting to an upstream and on the wait for its response head (504 past it)")
	fs.DurationVar(&f.upstreamBodyTimeout, "upstream-body-timeout", 5*time.Minute, "bound on each wait for more of an upstream's body (a stream idle longer is cut: an aborted message)")
	fs.DurationVar(&f.upstreamIdle, "upstream-idle-timeout", client.DefaultIdleTimeout, "close an idle upstream connection after this long")
	fs.DurationVar(&f.livenessIdle, "upstream-check-idle", 250*time.Millisecond, "check that an upstream connection idle at least this long is still open before reusing it (0: every reuse)")
	fs.IntVar(&f.maxConnsPerHost, "max-conns-per-upstream", client.DefaultMaxConnsPerHost, "connections per upstream origin (requests beyond it wait)")
	fs.IntVar(&f.maxFails, "max-fails", proxy.DefaultMaxFails, "eject an upstream after this many failures in a row")
	fs.DurationVar(&f.eject, "eject-time", proxy.DefaultEjectFirst, "first ejection of a failing upstream (doubles on each failed probe, up to 30s)")
	fs.BoolVar(&f.insecureUpstream, "insecure-upstream", false, "accept any TLS certificate from https upstreams")
	fs.StringVar(&f.admin, "admin", "", "serve /metrics (Prometheus) and, with the cache, POST /purge?url=URL on this `HOST:PORT`")
	fs.StringVar(&f.name, "name", "", "pseudonym in Via and for loop detection (default HOSTNAME:PORT)")
	f.cache.register(fs)
	if err := f.parse(args); err != nil {
		return nil, err
	}
	var err error
	if err = f.cache.check(); err != nil {
		return nil, err
	}
	if f.policy, err = proxy.ParsePolicy(f.balance); err != nil {
		return nil, err
	}
	for _, p := range strings.Split(f.connectPorts, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--connect-ports: %q is not a port", p)
		}
		f.ports = append(f.ports, n)
	}
	switch {
	case f.auth != "" && !strings.Contains(f.auth, ":"):
		return nil, errors.New("--auth wants USER:PASS")
	case f.auth != "" && len(f.upstreams) > 0:
		return nil, errors.New("--auth is proxy authentication, for forward mode; it does not go with --upstream")
	case f.upstreamTimeout <= 0 || f.upstreamBodyTimeout <= 0 || f.upstreamIdle <= 0 || f.livenessIdle < 0:
		return nil, errors.New("timeouts must be positive")
	case f.maxFails < 1:
		return nil, errors.New("--max-fails must be at least 1")
	case f.maxTunnels < 0 || f.tunnelIdle < 0:
		return nil, errors.New("--max-tunnels and --tunnel-idle-timeout must not be negative (0: none)")
	case f.name != "" && !validToken(f.name):
		return nil, fmt.Errorf("--name %q: want a token (letters, digits, and !#$%%&'*+-.^_`|~)", f.name)
	}
	return &f, nil
}

// validToken reports whether s can be a Via received-by: a token, or host:port.
func validToken(s string) bool {
	if a, err := wire.ParseAuthority(s); err == nil && len(a.Port) > 0 && !a.HasUserInfo {
		s = a.Host
	}
	return wire.IsToken(s)
}

// runProxy is `hop proxy` with its context, outputs and a hook told the address once
// the proxy listens. It returns the exit code.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) int {
	f, err := parseProxyFlags(args, stderr)
	if err != nil {
		return usageExit("hop proxy", err, stderr)
	}
	var bal *proxy.Balancer
	if len(f.upstreams) > 0 {
		if bal, err = proxy.NewBalancer(f.policy, f.upstreams...); err != nil {
			fmt.Fprintln(stderr, "hop proxy:", err)
			return 2
		}
		bal.MaxFails, bal.EjectFirst = f.maxFails, f.eject
	}

	accessLog, errLog, closeLog, err := f.logs(stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "hop proxy:", err)
		return 1
	}
	defer closeLog()

	ln, err := server.Listen("tcp", f.addr)
	if err != nil {
		fmt.Fprintln(stderr, "hop proxy:", err)
		return 1
	}
	addr := ln.Addr().String()
	name := f.name
	if name == "" {
		host, _ := os.Hostname()
		if host == "" || !validToken(host) {
			host = "hop"
		}
		_, port, _ := net.SplitHostPort(addr)
		name = host + ":" + port
	}

	upstream := &client.Client{
		MaxConnsPerHost:       f.maxConnsPerHost,
		ConnectTimeout:        f.upstreamTimeout,
		ResponseHeaderTimeout: f.upstreamTimeout,
		ReadTimeout:           f.upstreamBodyTimeout,
		IdleTimeout:           f.upstreamIdle,
		InsecureSkipVerify:    f.insecureUpstream,
		// A connection reused within this time was alive a moment ago: skipping the
		// check saves a system call per request under load. A close it then meets
		// fails before any response byte, and is retried when that is allowed.
		LivenessCheckMinIdle: f.livenessIdle,
	}
	defer upstream.Close()
	tr := &proxy.Transport{Client: upstream, Upstreams: bal, HostHeader: f.hostHeader}
	srv := &server.Server{IdleTimeout: f.idleTimeout, Logger: errLog}
	metrics := proxy.NewMetrics(srv, upstream, bal)
	var exchanger proxy.Exchanger = tr
	var shared *cache.Cache
	if f.cache.on {
		c, closeCache, err := f.cache.build(tr, errLog)
		if err != nil {
			ln.Close()
			fmt.Fprintln(stderr, "hop proxy: cache:", err)
			return 1
		}
		defer closeCache()
		registerCacheMetrics(metrics.Registry(), c)
		exchanger, shared = c, c
	}
	p := &proxy.Proxy{
		Exchanger:      exchanger,
		Reverse:        bal != nil,
		Name:           name,
		AllowFrom:      f.allowFrom,
		Trust:          f.trust,
		Auth:           f.auth,
		ConnectPorts:   f.ports,
		ConnectTimeout: f.upstreamTimeout,
		Metrics:        metrics,
		AccessLog:      accessLog,
		// The flags' 0 means none, the fields' negative.
		MaxTunnels:        zeroMeansNone(f.maxTunnels),
		TunnelIdleTimeout: time.Duration(zeroMeansNone(int64(f.tunnelIdle))),
	}
	srv.Handler = p

	var admin *server.Server
	adminDone := make(chan error, 1)
	if f.admin != "" {
		aln, err := net.Listen("tcp", f.admin)
		if err != nil {
			ln.Close()
			fmt.Fprintln(stderr, "hop proxy: --admin:", err)
			return 1
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler())
		if shared != nil {
			mux.Handle("/purge", purgeHandler(shared))
		}
		admin = &server.Server{Handler: server.FromHTTP(mux), Logger: errLog}
		fmt.Fprintf(stderr, "hop proxy: metrics on http://%s/metrics\n", aln.Addr())
		go func() { adminDone <- fmt.Errorf("admin: %w", admin.Serve(aln)) }()
	}

	if bal != nil {
		fmt.Fprintf(stderr, "proxying http://%s/ to %s (reverse, %s)\n", addr, strings.Join(f.upstreams, ", "), f.policy)
	} else {
		fmt.Fprintf(stderr, "proxying on http://%s/ (forward proxy)\n", addr)
	}
	if ready != nil {
		ready(addr)
	}

	return f.serve(ctx, srv, ln, stderr, adminDone, func(sctx context.Context) int {
		code := 0
		// Tunnels (CONNECT, upgrades) left the server's care when they started: they
		// get what remains of the same deadline.
		if n := p.Tunnels(); n > 0 {
			fmt.Fprintf(stderr, "hop proxy: waiting for %d tunnels\n", n)
		}
		if err := p.Shutdown(sctx); err != nil {
			fmt.Fprintln(stderr, "hop proxy: shutdown: tunnels still open at the deadline were closed")
			code = 1
		}
		if admin != nil {
			admin.Shutdown(sctx)
		}
		st := upstream.Stats()
		fmt.Fprintf(stderr, "hop proxy: %d upstream connections opened, %d exchanges reused one\n", st.NewConns, st.Reused)
		return code
	})
}

// zeroMeansNone maps a flag's 0 (no bound) to a field's negative (0 there is the
// default).
func zeroMeansNone[T int | int64](v T) T {
	if v == 0 {
		return -1
	}
	return v
}
