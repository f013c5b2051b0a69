package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/hop-http/hop/internal/neterr"
)

// Sources reported in [Result.Source].
const (
	SourceLiteral = "literal" // the host was an IP literal
	SourceHosts   = "hosts"   // the hosts file, or the built-in localhost rule
	SourceCache   = "cache"   // every answer came from the cache
	SourceDNS     = "dns"     // at least one answer came from a DNS server
)

const (
	defaultCacheSize = 1024
	// maxTTL caps how long a positive answer is cached.
	maxTTL = time.Hour
	// maxNegativeTTL caps how long an NXDOMAIN or NODATA answer is cached.
	maxNegativeTTL = 5 * time.Minute
	// fileCheckInterval is how often the hosts and resolv.conf files are
	// checked for changes.
	fileCheckInterval = 5 * time.Second
)

// Default is the resolver used by callers that have no reason to configure
// one. It reads the system configuration.
var Default = &Resolver{}

// ErrNotFound is the [Error.Err] of a lookup whose name does not exist (or has
// no address records). Test for it with errors.Is or with [Error.IsNotFound].
var ErrNotFound = errors.New("no such host")

// A Resolver looks up host names. The zero value is ready to use and reads
// /etc/hosts and /etc/resolv.conf. A Resolver is safe for concurrent use; its
// fields must not be changed after the first call to [Resolver.Lookup], and it
// must not be copied after first use.
type Resolver struct {
	// Nameservers, if not empty, replaces the nameserver lines of resolv.conf.
	// Entries are "ip", "ip:port" or "[ipv6]:port"; the port defaults to 53.
	Nameservers []string

	// HostsPath is the hosts file; "" means /etc/hosts. Use a path that does
	// not exist to disable it.
	HostsPath string

	// ResolvConfPath is the resolver configuration; "" means
	// /etc/resolv.conf. A missing file gives the glibc defaults.
	ResolvConfPath string

	// Timeout, if positive, replaces resolv.conf's "options timeout": how
	// long one query waits for one server before trying the next.
	Timeout time.Duration

	// Attempts, if positive, replaces resolv.conf's "options attempts": how
	// many times the whole server list is tried.
	Attempts int

	// Dial, if set, is used instead of net.Dialer.DialContext to open
	// connections to name servers; network is "udp" or "tcp". The context it
	// receives is not the caller's: it is shared by all lookups waiting for
	// the same query and is canceled when none waits any more.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)

	// CacheSize is the maximum number of cached answers (one per name and
	// record type); 0 means 1024 and a negative value disables the cache.
	CacheSize int

	// now is the clock for TTLs and file checks; nil means time.Now. Tests
	// set it.
	now func() time.Time

	once  sync.Once
	state *state
}

// state is what a Resolver builds on first use.
type state struct {
	cache  *cache
	group  group
	hosts  fileCache[hostsTable]
	conf   fileCache[*config]
	rotate atomic.Uint32 // round-robin counter for "options rotate"
}

func (r *Resolver) init() *state {
	r.once.Do(func() {
		size := r.CacheSize
		if size == 0 {
			size = defaultCacheSize
		}
		r.state = &state{
			cache: newCache(size),
			hosts: fileCache[hostsTable]{parse: parseHosts},
			conf:  fileCache[*config]{parse: parseResolvConf},
		}
	})
	return r.state
}

func (r *Resolver) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// Result is the outcome of a successful [Resolver.Lookup].
type Result struct {
	// Addrs holds the addresses found, never empty: IPv6 addresses first, then
	// IPv4, each family in the order the source gave them. Pass it through
	// [Interleave] before connecting.
	Addrs []netip.Addr

	// Source says where the answer came from: [SourceLiteral],
	// [SourceHosts], [SourceCache] or [SourceDNS].
	Source string

	// Server is the name server ("ip:port") that gave the answer, also for
	// cached answers; empty for literals and hosts entries.
	Server string

	// TCP reports whether a query of this lookup was retried over TCP
	// because the UDP answer was truncated.
	TCP bool

	// Duration is how long the lookup took.
	Duration time.Duration

	// TTL is how much longer the addresses may be used: the smallest
	// remaining TTL of the address records and CNAMEs they came from, capped
	// at one hour. It is zero for literals and hosts entries, and for DNS
	// answers with a zero TTL (which are not cached).
	TTL time.Duration
}

// Error is the error returned by [Resolver.Lookup]. It implements net.Error.
type Error struct {
	Name       string // the host name that was looked up
	Server     string // the last server tried, if any
	Err        error  // the cause: ErrNotFound, a context error, a network or protocol error
	IsNotFound bool   // the name does not exist or has no A/AAAA records
	IsTimeout  bool   // no server answered in time, or the context deadline passed
}

// Error implements error: "resolve NAME: cause", or "resolve NAME on SERVER: cause"
// when a server was asked. It names the phase and the host, so callers need not wrap
// it with either again.
func (e *Error) Error() string {
	s := "resolve " + e.Name
	if e.Server != "" {
		s += " on " + e.Server
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns [Error.Err].
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports [Error.IsTimeout]; it implements net.Error.
func (e *Error) Timeout() bool { return e.IsTimeout }

// Temporary reports whether retrying later may succeed: true for timeouts and
// server failures, false when the name was not found. It implements
// net.Error.
func (e *Error) Temporary() bool { return !e.IsNotFound }

// Lookup returns the addresses of host, which may be a name or an IP literal
// (IPv6 optionally bracketed or with a zone). See the package documentation
// for the order in which sources are consulted. On failure the error is an
// [*Error].
func (r *Resolver) Lookup(ctx context.Context, host string) (*Result, error) {
	start := time.Now()
	res, err := r.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

func (r *Resolver) lookup(ctx context.Context, host string) (*Result, error) {
	if res := literal(host); res != nil {
		return res, nil
	}
	st := r.init()
	name := strings.ToLower(host)
	if !validName(name) {
		return nil, &Error{Name: host, Err: errors.New("invalid host name"), IsNotFound: true}
	}
	bare := strings.TrimSuffix(name, ".")
	if bare == "localhost" || strings.HasSuffix(bare, ".localhost") {
		return &Result{
			Addrs:  []netip.Addr{netip.IPv6Loopback(), netip.AddrFrom4([4]byte{127, 0, 0, 1})},
			Source: SourceHosts,
		}, nil
	}
	if strings.HasSuffix(bare, ".onion") { // RFC 7686: never sent to DNS.
		return nil, &Error{Name: host, Err: ErrNotFound, IsNotFound: true}
	}

	now := r.clock()
	path := r.HostsPath
	if path == "" {
		path = "/etc/hosts"
	}
	if addrs := st.hosts.get(path, now).lookup(bare); len(addrs) > 0 {
		return &Result{Addrs: addrs, Source: SourceHosts}, nil
	}

	if err := ctx.Err(); err != nil {
		return nil, ctxError(host, err)
	}
	path = r.ResolvConfPath
	if path == "" {
		path = "/etc/resolv.conf"
	}
	conf := r.effective(st.conf.get(path, now))

	var firstErr error
	var errServer string
	for _, fqdn := range conf.nameList(name) {
		res, ans, err := r.lookupFQDN(ctx, st, conf, fqdn)
		if err != nil { // the caller's context is done
			return nil, ctxError(host, err)
		}
		if res != nil {
			return res, nil
		}
		for _, a := range ans {
			if a.err != nil && firstErr == nil {
				firstErr, errServer = a.err, a.server
			}
		}
		// Stop at a timeout: the servers are unreachable, and trying the
		// other names of the search list would only multiply the wait.
		if firstErr != nil && neterr.IsTimeout(firstErr) {
			break
		}
	}
	if firstErr != nil {
		return nil, &Error{Name: host, Server: errServer, Err: firstErr, IsTimeout: neterr.IsTimeout(firstErr)}
	}
	return nil, &Error{Name: host, Err: ErrNotFound, IsNotFound: true}
}

// lookupFQDN queries AAAA and A for one fully qualified name in parallel. It
// returns a Result if either gave addresses, otherwise the two answers (which
// are negative or failed). The error is the caller's context error.
func (r *Resolver) lookupFQDN(ctx context.Context, st *state, conf *config, fqdn string) (*Result, [2]answer, error) {
	types := [2]dnsmessage.Type{dnsmessage.TypeAAAA, dnsmessage.TypeA}
	var ans [2]answer
	var calls [2]*call
	now := r.clock()
	for i, t := range types {
		key := cacheKey{fqdn, t}
		if a, ok := st.cache.get(key, now); ok {
			ans[i] = a
			continue
		}
		calls[i] = st.group.join(key, func(fctx context.Context) answer {
			if a, ok := st.cache.get(key, r.clock()); ok {
				return a
			}
			a := r.query(fctx, st, conf, fqdn, t)
			if a.err == nil {
				st.cache.put(key, a, r.clock())
			}
			return a
		})
	}
	for i, c := range calls {
		if c == nil {
			continue
		}
		a, err := st.group.wait(ctx, c)
		if err != nil {
			for _, other := range calls[i+1:] {
				if other != nil {
					st.group.leave(other)
				}
			}
			return nil, ans, err
		}
		ans[i] = a
	}

	res := &Result{Source: SourceCache}
	for _, a := range ans {
		if a.err != nil {
			continue
		}
		res.Addrs = append(res.Addrs, a.addrs...)
		if !a.cached {
			res.Source = SourceDNS
		}
		// Report the server of the first family that gave addresses.
		if res.Server == "" || len(a.addrs) > 0 && len(res.Addrs) == len(a.addrs) {
			res.Server = a.server
		}
		res.TCP = res.TCP || a.tcp
		if len(a.addrs) > 0 && a.ttl > 0 && (res.TTL == 0 || a.ttl < res.TTL) {
			res.TTL = a.ttl
		}
	}
	if len(res.Addrs) == 0 {
		return nil, ans, nil
	}
	return res, ans, nil
}

// literal returns the Result for an IP literal host, or nil.
func literal(host string) *Result {
	h := host
	if len(h) > 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	if h == "" || !(h[0] >= '0' && h[0] <= '9' || strings.IndexByte(h, ':') >= 0) {
		return nil
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return nil
	}
	return &Result{Addrs: []netip.Addr{a}, Source: SourceLiteral}
}

// validName reports whether name is a syntactically usable DNS name: at most
// 253 characters (plus an optional final dot), labels of 1 to 63 printable
// characters.
func validName(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c <= ' ' || c >= 0x7f || c == '\\':
			return false
		default:
			label++
			if label > 63 {
				return false
			}
		}
	}
	return label > 0
}

func ctxError(host string, err error) *Error {
	return &Error{Name: host, Err: err, IsTimeout: errors.Is(err, context.DeadlineExceeded)}
}

// v6First returns addrs with the IPv6 addresses first, then the IPv4 ones
// (including IPv4-mapped IPv6), each family keeping its order.
func v6First(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if !a.Unmap().Is4() {
			out = append(out, a)
		}
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			out = append(out, a)
		}
	}
	return out
}

// Interleave orders addrs for Happy Eyeballs (RFC 8305 section 4): it
// alternates address families, starting with IPv6, keeping the order within
// each family; when one family runs out the rest of the other follows.
// IPv4-mapped IPv6 addresses count as IPv4. The input is not modified.
func Interleave(addrs []netip.Addr) []netip.Addr {
	var v6, v4 []netip.Addr
	for _, a := range addrs {
		if a.Unmap().Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for i := 0; i < len(v6) || i < len(v4); i++ {
		if i < len(v6) {
			out = append(out, v6[i])
		}
		if i < len(v4) {
			out = append(out, v4[i])
		}
	}
	return out
}
