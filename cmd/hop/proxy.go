package main

import (
	"context"
	"errors"
	"flag"
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
	addr, admin, name    string
	upstreams            listFlag
	balance, hostHeader  string
	trust, allowFrom     prefixFlag
	auth, connectPorts   string
	upstreamTimeout      time.Duration
	idleTimeout          time.Duration
	maxFails             int
	eject                time.Duration
	maxConnsPerHost      int
	logFormat, accessLog string
	shutdownTimeout      time.Duration
	ports                []int
	policy               proxy.Policy
	insecureUpstream     bool
	upstreamIdle         time.Duration
	livenessIdle         time.Duration
	cache                cacheFlags
}

func parseProxyFlags(args []string, stderr io.Writer) (*proxyFlags, error) {
	var f proxyFlags
	fs := flag.NewFlagSet("hop proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:3128", "`HOST:PORT` to listen on (port 0 picks a free one)")
	fs.Var(&f.upstreams, "upstream", "reverse proxy in front of this origin `URL` (repeatable; http or https, optional path prefix)")
	fs.StringVar(&f.balance, "balance", "round-robin", "choice among upstreams: round-robin or least-conn")
	fs.StringVar(&f.hostHeader, "host-header", "", "reverse mode: Host sent upstream; empty passes the client's through, \"upstream\" sends the upstream's authority, anything else is sent as it is")
	fs.Var(&f.trust, "trust", "keep and extend X-Forwarded-*/Forwarded from these peers (`CIDR`, repeatable; reverse mode)")
	fs.Var(&f.allowFrom, "allow-from", "serve clients from this `CIDR` (repeatable; default loopback only)")
	fs.StringVar(&f.auth, "auth", "", "require proxy authentication with these `USER:PASS` credentials (Basic; forward mode)")
	fs.StringVar(&f.connectPorts, "connect-ports", "443", "comma-separated `PORTS` that CONNECT may reach")
	fs.DurationVar(&f.upstreamTimeout, "upstream-timeout", 30*time.Second, "bound on connecting to an upstream and on each wait for its response (504 past it)")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", server.DefaultIdleTimeout, "close an idle client connection after this long")
	fs.DurationVar(&f.upstreamIdle, "upstream-idle-timeout", client.DefaultIdleTimeout, "close an idle upstream connection after this long")
	fs.DurationVar(&f.livenessIdle, "upstream-check-idle", 250*time.Millisecond, "check that an upstream connection idle at least this long is still open before reusing it (0: every reuse)")
	fs.IntVar(&f.maxConnsPerHost, "max-conns-per-upstream", client.DefaultMaxConnsPerHost, "connections per upstream origin (requests beyond it wait)")
	fs.IntVar(&f.maxFails, "max-fails", proxy.DefaultMaxFails, "eject an upstream after this many failures in a row")
	fs.DurationVar(&f.eject, "eject-time", proxy.DefaultEjectFirst, "first ejection of a failing upstream (doubles on each failed probe, up to 30s)")
	fs.BoolVar(&f.insecureUpstream, "insecure-upstream", false, "accept any TLS certificate from https upstreams")
	fs.StringVar(&f.admin, "admin", "", "serve /metrics (Prometheus) on this `HOST:PORT`")
	fs.StringVar(&f.name, "name", "", "pseudonym in Via and for loop detection (default HOSTNAME:PORT)")
	fs.StringVar(&f.logFormat, "log-format", "text", "access log format: text or json")
	fs.StringVar(&f.accessLog, "access-log", "stderr", "access log destination: stderr, stdout (or -), off, or a `FILE` to append to")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, wait this long for requests in flight")
	f.cache.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: hop proxy [--addr HOST:PORT] [--upstream URL]... [flags]\n\n"+
			"A forward proxy (absolute-form requests; CONNECT) or, with --upstream, a reverse proxy in front\n"+
			"of those origins. Keeps persistent connections on both sides, removes hop-by-hop fields, adds Via,\n"+
			"and logs each request with its client and upstream connections.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
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
	case f.logFormat != "text" && f.logFormat != "json":
		return nil, fmt.Errorf("--log-format must be text or json, not %q", f.logFormat)
	case f.auth != "" && !strings.Contains(f.auth, ":"):
		return nil, errors.New("--auth wants USER:PASS")
	case f.auth != "" && len(f.upstreams) > 0:
		return nil, errors.New("--auth is proxy authentication, for forward mode; it does not go with --upstream")
	case f.upstreamTimeout <= 0 || f.idleTimeout <= 0 || f.upstreamIdle <= 0 || f.livenessIdle < 0:
		return nil, errors.New("timeouts must be positive")
	case f.maxFails < 1:
		return nil, errors.New("--max-fails must be at least 1")
	case f.name != "" && !validToken(f.name):
		return nil, fmt.Errorf("--name %q: want a token (letters, digits, and !#$%%&'*+-.^_`|~)", f.name)
	}
	return &f, nil
}

// validToken reports whether s can be a Via received-by: a token, or host:port.
func validToken(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		if _, perr := strconv.Atoi(port); perr != nil {
			return false
		}
		s = host
	}
	return wire.IsToken(s)
}

// runProxy is `hop proxy` with its context, outputs and a hook told the address once
// the proxy listens. It returns the exit code.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) int {
	f, err := parseProxyFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "hop proxy:", err)
		return 2
	}
	var bal *proxy.Balancer
	if len(f.upstreams) > 0 {
		if bal, err = proxy.NewBalancer(f.policy, f.upstreams...); err != nil {
			fmt.Fprintln(stderr, "hop proxy:", err)
			return 2
		}
		bal.MaxFails, bal.EjectFirst = f.maxFails, f.eject
	}

	logOut, closeLog, err := openAccessLog(f.accessLog, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "hop proxy:", err)
		return 1
	}
	defer closeLog()
	errLog := newLogger(f.logFormat, stderr)

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
		MaxConnsPerHost:    f.maxConnsPerHost,
		ConnectTimeout:     f.upstreamTimeout,
		ReadTimeout:        f.upstreamTimeout,
		IdleTimeout:        f.upstreamIdle,
		InsecureSkipVerify: f.insecureUpstream,
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
	}
	if logOut != nil {
		p.AccessLog = newLogger(f.logFormat, logOut)
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
		go func() { adminDone <- admin.Serve(aln) }()
	}

	if bal != nil {
		fmt.Fprintf(stderr, "proxying http://%s/ to %s (reverse, %s)\n", addr, strings.Join(f.upstreams, ", "), f.policy)
	} else {
		fmt.Fprintf(stderr, "proxying on http://%s/ (forward proxy)\n", addr)
	}
	if ready != nil {
		ready(addr)
	}

	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintln(stderr, "hop proxy:", err)
		return 1
	case err := <-adminDone:
		fmt.Fprintln(stderr, "hop proxy: admin:", err)
		srv.Close()
		<-done
		return 1
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "hop proxy: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	code := 0
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "hop proxy: shutdown:", err)
		code = 1
	}
	<-done
	if admin != nil {
		admin.Shutdown(sctx)
	}
	st := upstream.Stats()
	fmt.Fprintf(stderr, "hop proxy: %d upstream connections opened, %d exchanges reused one\n", st.NewConns, st.Reused)
	return code
}
