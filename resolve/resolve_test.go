package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const (
	typeA    = dnsmessage.TypeA
	typeAAAA = dnsmessage.TypeAAAA
)

func testZone() map[string][]rec {
	return map[string][]rec{
		"both.test.":   {a("192.0.2.1", 300), a("192.0.2.2", 300), aaaa("2001:db8::1", 300)},
		"v4.test.":     {a("192.0.2.3", 300)},
		"v6.test.":     {aaaa("2001:db8::3", 300)},
		"alias.test.":  {cname("mid.test.", 30)},
		"mid.test.":    {cname("both.test.", 300)},
		"dangle.test.": {cname("missing.test.", 300)},
		"nodata.test.": nil,
		"long.test.":   {a("192.0.2.4", 7*86400)},
	}
}

func addrs(ss ...string) []netip.Addr {
	out := []netip.Addr{}
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestLookup(t *testing.T) {
	srv := newTestServer(t, testZone())
	hosts := "# comment\n192.0.2.9 hosted.test hostalias # trailing\n2001:db8::9 hosted.test\n"
	tests := []struct {
		name, host string
		want       []netip.Addr
		source     string
		ttl        time.Duration
		notFound   bool
		queries    bool // whether the server must have been asked
	}{
		{name: "ipv4 literal", host: "192.0.2.7", want: addrs("192.0.2.7"), source: SourceLiteral},
		{name: "ipv6 literal", host: "2001:db8::7", want: addrs("2001:db8::7"), source: SourceLiteral},
		{name: "ipv6 zone", host: "fe80::1%eth0", want: addrs("fe80::1%eth0"), source: SourceLiteral},
		{name: "bracketed ipv6", host: "[::1]", want: addrs("::1"), source: SourceLiteral},
		{name: "localhost", host: "localhost", want: addrs("::1", "127.0.0.1"), source: SourceHosts},
		{name: "under localhost", host: "App.Localhost.", want: addrs("::1", "127.0.0.1"), source: SourceHosts},
		{name: "hosts file", host: "hosted.test", want: addrs("2001:db8::9", "192.0.2.9"), source: SourceHosts},
		{name: "hosts alias", host: "HostAlias.", want: addrs("192.0.2.9"), source: SourceHosts},
		{name: "A and AAAA", host: "both.test", want: addrs("2001:db8::1", "192.0.2.1", "192.0.2.2"), source: SourceDNS, ttl: 300 * time.Second, queries: true},
		{name: "upper case", host: "BOTH.Test.", want: addrs("2001:db8::1", "192.0.2.1", "192.0.2.2"), source: SourceDNS, ttl: 300 * time.Second, queries: true},
		{name: "A only", host: "v4.test", want: addrs("192.0.2.3"), source: SourceDNS, ttl: 300 * time.Second, queries: true},
		{name: "AAAA only", host: "v6.test", want: addrs("2001:db8::3"), source: SourceDNS, ttl: 300 * time.Second, queries: true},
		{name: "CNAME chain", host: "alias.test", want: addrs("2001:db8::1", "192.0.2.1", "192.0.2.2"), source: SourceDNS, ttl: 30 * time.Second, queries: true},
		{name: "TTL capped", host: "long.test", want: addrs("192.0.2.4"), source: SourceDNS, ttl: maxTTL, queries: true},
		{name: "NXDOMAIN", host: "missing.test", notFound: true, queries: true},
		{name: "NODATA", host: "nodata.test", notFound: true, queries: true},
		{name: "CNAME to NXDOMAIN", host: "dangle.test", notFound: true, queries: true},
		{name: "empty label", host: "bad..test", notFound: true},
		{name: "empty", host: "", notFound: true},
		{name: "onion", host: "abc.onion", notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestResolver(t, "options ndots:1\n", srv)
			r.HostsPath = filepath.Join(t.TempDir(), "hosts")
			if err := os.WriteFile(r.HostsPath, []byte(hosts), 0o644); err != nil {
				t.Fatal(err)
			}
			before := srv.total()
			res, err := r.Lookup(context.Background(), tt.host)
			if asked := srv.total() > before; asked != tt.queries {
				t.Errorf("server asked: %v, want %v", asked, tt.queries)
			}
			if tt.notFound {
				var e *Error
				if !errors.As(err, &e) || !e.IsNotFound || e.IsTimeout || !errors.Is(err, ErrNotFound) && e.Err.Error() != "invalid host name" {
					t.Fatalf("Lookup(%q) = %v, %v; want not-found *Error", tt.host, res, err)
				}
				if e.Name != tt.host {
					t.Errorf("Error.Name = %q, want %q", e.Name, tt.host)
				}
				// One phase word and the name, not "resolve: lookup".
				if want := "resolve " + tt.host + ": "; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "lookup") {
					t.Errorf("message %q, want it to start with %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.host, err)
			}
			if !slices.Equal(res.Addrs, tt.want) {
				t.Errorf("Addrs = %v, want %v", res.Addrs, tt.want)
			}
			if res.Source != tt.source || res.TTL != tt.ttl || res.TCP {
				t.Errorf("Source, TTL, TCP = %q, %v, %v; want %q, %v, false", res.Source, res.TTL, res.TCP, tt.source, tt.ttl)
			}
			wantServer := ""
			if tt.source == SourceDNS {
				wantServer = srv.addr
			}
			if res.Server != wantServer {
				t.Errorf("Server = %q, want %q", res.Server, wantServer)
			}
			if res.Duration <= 0 {
				t.Errorf("Duration = %v", res.Duration)
			}
		})
	}
}

func TestParallelQueries(t *testing.T) {
	srv := newTestServer(t, testZone())
	srv.set(func(s *testServer) { s.delay = 300 * time.Millisecond })
	r, _ := newTestResolver(t, "", srv)
	res, err := r.Lookup(context.Background(), "both.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Addrs) != 3 {
		t.Errorf("Addrs = %v", res.Addrs)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.maxInflight != 2 {
		t.Errorf("max queries in flight = %d, want 2 (A and AAAA in parallel)", srv.maxInflight)
	}
}

func TestTCPFallback(t *testing.T) {
	srv := newTestServer(t, testZone())
	srv.set(func(s *testServer) { s.truncate = true })
	r, _ := newTestResolver(t, "", srv)
	res, err := r.Lookup(context.Background(), "both.test")
	if err != nil {
		t.Fatal(err)
	}
	if want := addrs("2001:db8::1", "192.0.2.1", "192.0.2.2"); !slices.Equal(res.Addrs, want) {
		t.Errorf("Addrs = %v, want %v", res.Addrs, want)
	}
	if !res.TCP || res.Source != SourceDNS {
		t.Errorf("TCP, Source = %v, %q; want true, dns", res.TCP, res.Source)
	}
	for _, typ := range []dnsmessage.Type{typeA, typeAAAA} {
		if udp, tcp := srv.count("both.test.", typ); udp != 1 || tcp != 1 {
			t.Errorf("%v queries: udp %d, tcp %d; want 1, 1", typ, udp, tcp)
		}
	}
	// The cached answer does not claim TCP.
	res, err = r.Lookup(context.Background(), "both.test")
	if err != nil || res.Source != SourceCache || res.TCP {
		t.Errorf("second lookup = %+v, %v; want from cache, no TCP", res, err)
	}
}

func TestCacheHit(t *testing.T) {
	srv := newTestServer(t, testZone())
	r, clk := newTestResolver(t, "", srv)
	ctx := context.Background()
	first, err := r.Lookup(ctx, "alias.test")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	second, err := r.Lookup(ctx, "alias.test")
	if err != nil {
		t.Fatal(err)
	}
	if second.Source != SourceCache || second.Server != srv.addr || second.TTL != 20*time.Second {
		t.Errorf("second lookup Source, Server, TTL = %q, %q, %v; want cache, %s, 20s", second.Source, second.Server, second.TTL, srv.addr)
	}
	if !slices.Equal(first.Addrs, second.Addrs) {
		t.Errorf("cached Addrs = %v, want %v", second.Addrs, first.Addrs)
	}
	if n := srv.total(); n != 2 {
		t.Errorf("server got %d queries, want 2", n)
	}
	// Mutating a result must not affect the cache.
	second.Addrs[0] = netip.MustParseAddr("203.0.113.1")
	third, _ := r.Lookup(ctx, "alias.test")
	if !slices.Equal(third.Addrs, first.Addrs) {
		t.Errorf("cache was modified through a Result: %v", third.Addrs)
	}
}

func TestCacheDisabled(t *testing.T) {
	srv := newTestServer(t, testZone())
	r, _ := newTestResolver(t, "", srv)
	r.CacheSize = -1
	for range 2 {
		if res, err := r.Lookup(context.Background(), "v4.test"); err != nil || res.Source != SourceDNS {
			t.Fatalf("Lookup = %+v, %v", res, err)
		}
	}
	if udp, _ := srv.count("v4.test.", typeA); udp != 2 {
		t.Errorf("A queries = %d, want 2", udp)
	}
}

func TestTTLExpiry(t *testing.T) {
	srv := newTestServer(t, map[string][]rec{
		"short.test.": {a("192.0.2.1", 30), aaaa("2001:db8::1", 60)},
	})
	r, clk := newTestResolver(t, "", srv)
	ctx := context.Background()
	steps := []struct {
		advance    time.Duration
		source     string
		ttl        time.Duration
		aQ, aaaaQ  int // cumulative queries
		wantAddrsN int
	}{
		{0, SourceDNS, 30 * time.Second, 1, 1, 2},
		{29 * time.Second, SourceCache, 1 * time.Second, 1, 1, 2},
		{1 * time.Second, SourceDNS, 30 * time.Second, 2, 1, 2}, // A expired, AAAA still cached
		{30 * time.Second, SourceDNS, 30 * time.Second, 3, 2, 2},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		res, err := r.Lookup(ctx, "short.test")
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if res.Source != st.source || res.TTL != st.ttl || len(res.Addrs) != st.wantAddrsN {
			t.Errorf("step %d: Source, TTL, Addrs = %q, %v, %v; want %q, %v, %d addrs", i, res.Source, res.TTL, res.Addrs, st.source, st.ttl, st.wantAddrsN)
		}
		aQ, _ := srv.count("short.test.", typeA)
		aaaaQ, _ := srv.count("short.test.", typeAAAA)
		if aQ != st.aQ || aaaaQ != st.aaaaQ {
			t.Errorf("step %d: A, AAAA queries = %d, %d; want %d, %d", i, aQ, aaaaQ, st.aQ, st.aaaaQ)
		}
	}
}

func TestNegativeCache(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		negTTL uint32
		noSOA  bool
		cached time.Duration // 0: not cached
	}{
		{name: "NXDOMAIN", host: "missing.test", negTTL: 60, cached: 60 * time.Second},
		{name: "NODATA", host: "nodata.test", negTTL: 45, cached: 45 * time.Second},
		{name: "capped", host: "missing.test", negTTL: 86400, cached: maxNegativeTTL},
		{name: "NXDOMAIN without SOA", host: "missing.test", noSOA: true},
		{name: "NODATA without SOA", host: "nodata.test", noSOA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, testZone())
			srv.set(func(s *testServer) { s.negTTL, s.noSOA = tt.negTTL, tt.noSOA })
			r, clk := newTestResolver(t, "", srv)
			fqdn := tt.host + "."
			lookup := func(wantQueries int) {
				t.Helper()
				_, err := r.Lookup(context.Background(), tt.host)
				var e *Error
				if !errors.As(err, &e) || !e.IsNotFound || !errors.Is(err, ErrNotFound) || e.Temporary() {
					t.Fatalf("Lookup err = %v, want not found", err)
				}
				for _, typ := range []dnsmessage.Type{typeA, typeAAAA} {
					if n, _ := srv.count(fqdn, typ); n != wantQueries {
						t.Errorf("%v queries = %d, want %d", typ, n, wantQueries)
					}
				}
			}
			lookup(1)
			if tt.cached == 0 {
				lookup(2)
				return
			}
			clk.Advance(tt.cached - time.Second)
			lookup(1)
			clk.Advance(time.Second)
			lookup(2)
		})
	}
}

func TestSearchList(t *testing.T) {
	srv := newTestServer(t, map[string][]rec{
		"host.b.test.":  {a("192.0.2.1", 60)},
		"x.y.z.":        {a("192.0.2.2", 60)},
		"x.y.z.a.test.": {a("192.0.2.3", 60)},
		"one.two.":      {a("192.0.2.4", 60)},
	})
	tests := []struct {
		name, conf, host string
		queried          []string // A queries, in order
		want             []netip.Addr
	}{
		{"search second", "search a.test b.test\noptions ndots:2", "host",
			[]string{"host.a.test.", "host.b.test."}, addrs("192.0.2.1")},
		{"enough dots: as is first", "search a.test b.test\noptions ndots:2", "x.y.z",
			[]string{"x.y.z."}, addrs("192.0.2.2")},
		{"too few dots: as is last", "search a.test b.test\noptions ndots:2", "one.two",
			[]string{"one.two.a.test.", "one.two.b.test.", "one.two."}, addrs("192.0.2.4")},
		{"ndots 5", "search a.test\noptions ndots:5", "x.y.z",
			[]string{"x.y.z.a.test."}, addrs("192.0.2.3")},
		{"absolute skips search", "search a.test b.test\noptions ndots:5", "host.b.test.",
			[]string{"host.b.test."}, addrs("192.0.2.1")},
		{"domain line", "domain b.test\n", "host",
			[]string{"host.b.test."}, addrs("192.0.2.1")},
		{"not found anywhere", "search a.test b.test\n", "nope",
			[]string{"nope.a.test.", "nope.b.test.", "nope."}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestResolver(t, tt.conf, srv)
			srv.set(func(s *testServer) { s.queries = nil })
			res, err := r.Lookup(context.Background(), tt.host)
			if got := srv.names(typeA); !slices.Equal(got, tt.queried) {
				t.Errorf("queried %v, want %v", got, tt.queried)
			}
			if tt.want == nil {
				if e := (*Error)(nil); !errors.As(err, &e) || !e.IsNotFound {
					t.Errorf("err = %v, want not found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Addrs, tt.want) {
				t.Errorf("Addrs = %v, want %v", res.Addrs, tt.want)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	srv := newTestServer(t, map[string][]rec{"dns.test.": {a("192.0.2.53", 60)}})
	r, clk := newTestResolver(t, "", srv)
	r.HostsPath = filepath.Join(t.TempDir(), "hosts")
	write := func(content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(r.HostsPath, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(r.HostsPath, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	check := func(host, source string, want ...string) {
		t.Helper()
		res, err := r.Lookup(context.Background(), host)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", host, err)
		}
		if res.Source != source || !slices.Equal(res.Addrs, addrs(want...)) {
			t.Errorf("Lookup(%q) = %v from %s, want %v from %s", host, res.Addrs, res.Source, want, source)
		}
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	write("192.0.2.1 web.test\n192.0.2.2 dns.test\n", t0)
	check("web.test", SourceHosts, "192.0.2.1")
	check("dns.test", SourceHosts, "192.0.2.2") // hosts before DNS

	// Changed file, but checked too recently: old contents.
	write("192.0.2.10 web.test\n", t0.Add(time.Minute))
	clk.Advance(time.Second)
	check("web.test", SourceHosts, "192.0.2.1")

	// After the check interval the new contents are used.
	clk.Advance(fileCheckInterval)
	check("web.test", SourceHosts, "192.0.2.10")
	check("dns.test", SourceDNS, "192.0.2.53")
	if srv.total() != 2 {
		t.Errorf("server got %d queries, want 2", srv.total())
	}

	// File removed: DNS only.
	os.Remove(r.HostsPath)
	clk.Advance(fileCheckInterval)
	if _, err := r.Lookup(context.Background(), "web.test"); err == nil {
		t.Error("web.test still resolves after the hosts file was removed")
	}
}

func TestParseHosts(t *testing.T) {
	in := `# comment
127.0.0.1	localhost
::1 localhost ip6-localhost
192.0.2.1 a.test A.Test b.test. # alias, duplicates
fe80::1%lo Link.test
not-an-ip bad.test
192.0.2.2
2001:db8::1 a.test
`
	got := parseHosts([]byte(in))
	tests := []struct {
		name string
		want []netip.Addr
	}{
		{"a.test", addrs("2001:db8::1", "192.0.2.1")},
		{"b.test", addrs("192.0.2.1")},
		{"link.test", addrs("fe80::1%lo")},
		{"ip6-localhost", addrs("::1")},
		{"bad.test", nil},
		{"missing", nil},
	}
	for _, tt := range tests {
		if l := got.lookup(tt.name); !slices.Equal(l, tt.want) {
			t.Errorf("lookup(%q) = %v, want %v", tt.name, l, tt.want)
		}
	}
}

func TestParseResolvConf(t *testing.T) {
	def := []string{"127.0.0.1:53", "[::1]:53"}
	tests := []struct {
		name string
		in   string
		want config
	}{
		{"missing file", "", config{servers: def, ndots: 1, timeout: 5 * time.Second, attempts: 2}},
		{"full", `# generated
nameserver 192.0.2.53
nameserver 2001:db8::53 ; comment
search Example.com. corp.example.com
options ndots:3 timeout:1 attempts:4 rotate edns0
`, config{servers: []string{"192.0.2.53:53", "[2001:db8::53]:53"}, search: []string{"example.com", "corp.example.com"},
			ndots: 3, timeout: time.Second, attempts: 4, rotate: true}},
		{"at most three servers", "nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver bogus\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n",
			config{servers: []string{"192.0.2.1:53", "192.0.2.2:53", "192.0.2.3:53"}, ndots: 1, timeout: 5 * time.Second, attempts: 2}},
		{"last of domain and search wins", "search a.test b.test\ndomain c.test\n",
			config{servers: def, search: []string{"c.test"}, ndots: 1, timeout: 5 * time.Second, attempts: 2}},
		{"search after domain", "domain c.test\nsearch a.test\n",
			config{servers: def, search: []string{"a.test"}, ndots: 1, timeout: 5 * time.Second, attempts: 2}},
		{"clamped options", "options ndots:99 timeout:100 attempts:0\n",
			config{servers: def, ndots: 15, timeout: 30 * time.Second, attempts: 1}},
		{"malformed options", "options ndots:x timeout: attempts\noptions ndots:0\n",
			config{servers: def, ndots: 0, timeout: 5 * time.Second, attempts: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseResolvConf([]byte(tt.in))
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestResolverOverrides(t *testing.T) {
	r := &Resolver{
		Nameservers: []string{"192.0.2.1", "192.0.2.2:5353", "2001:db8::1", "[2001:db8::2]:54", "[fe80::1%eth0]"},
		Timeout:     time.Second,
		Attempts:    3,
	}
	c := r.effective(parseResolvConf([]byte("nameserver 192.0.2.9\nsearch a.test\noptions timeout:9 attempts:1\n")))
	want := []string{"192.0.2.1:53", "192.0.2.2:5353", "[2001:db8::1]:53", "[2001:db8::2]:54", "[fe80::1%eth0]:53"}
	if !slices.Equal(c.servers, want) || c.timeout != time.Second || c.attempts != 3 || !slices.Equal(c.search, []string{"a.test"}) {
		t.Errorf("effective config = %+v", *c)
	}
}

func TestTimeout(t *testing.T) {
	srv := newTestServer(t, testZone())
	srv.set(func(s *testServer) { s.drop = true })
	r, _ := newTestResolver(t, "search a.test b.test\n", srv)
	r.Timeout = 100 * time.Millisecond
	r.Attempts = 2
	start := time.Now()
	_, err := r.Lookup(context.Background(), "both.test")
	elapsed := time.Since(start)
	var e *Error
	if !errors.As(err, &e) || !e.IsTimeout || !e.Timeout() || e.IsNotFound || e.Server != srv.addr {
		t.Fatalf("err = %#v, want timeout from %s", err, srv.addr)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err is not a net.Error timeout")
	}
	if elapsed < 200*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("took %v, want about 2 attempts of 100ms", elapsed)
	}
	// Two attempts for each type, and no search-list names after a timeout.
	if udp, _ := srv.count("both.test.", typeA); udp != 2 {
		t.Errorf("A queries = %d, want 2", udp)
	}
	if n := srv.total(); n != 4 {
		t.Errorf("total queries = %d, want 4", n)
	}
}

func TestContext(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		timeout bool
		is      error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, true, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, false, context.Canceled},
		{"already canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, testZone())
			srv.set(func(s *testServer) { s.drop = true })
			r, _ := newTestResolver(t, "", srv)
			r.Timeout = 5 * time.Second // longer than the context
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := r.Lookup(ctx, "both.test")
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v, want the context's 100ms", d)
			}
			var e *Error
			if !errors.As(err, &e) || e.IsTimeout != tt.timeout || !errors.Is(err, tt.is) {
				t.Fatalf("err = %v (%#v), want %v with IsTimeout %v", err, err, tt.is, tt.timeout)
			}
			// The abandoned queries are canceled and forgotten.
			waitFor(t, func() bool {
				st := r.init()
				st.group.mu.Lock()
				defer st.group.mu.Unlock()
				return len(st.group.m) == 0
			})
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSingleflight(t *testing.T) {
	srv := newTestServer(t, testZone())
	srv.set(func(s *testServer) { s.delay = 200 * time.Millisecond })
	r, _ := newTestResolver(t, "", srv)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			res, err := r.Lookup(context.Background(), "both.test")
			if err == nil && len(res.Addrs) != 3 {
				err = fmt.Errorf("Addrs = %v", res.Addrs)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []dnsmessage.Type{typeA, typeAAAA} {
		if udp, _ := srv.count("both.test.", typ); udp != 1 {
			t.Errorf("%v queries = %d, want 1", typ, udp)
		}
	}
}

// A caller giving up does not fail the others waiting for the same query.
func TestSingleflightCallerLeaves(t *testing.T) {
	srv := newTestServer(t, testZone())
	srv.set(func(s *testServer) { s.delay = 300 * time.Millisecond })
	r, _ := newTestResolver(t, "", srv)
	r.CacheSize = -1
	var wg sync.WaitGroup
	var patientErr, hastyErr error
	wg.Go(func() { _, patientErr = r.Lookup(context.Background(), "both.test") })
	time.Sleep(50 * time.Millisecond)
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, hastyErr = r.Lookup(ctx, "both.test")
	})
	wg.Wait()
	if patientErr != nil {
		t.Errorf("patient caller: %v", patientErr)
	}
	if e := (*Error)(nil); !errors.As(hastyErr, &e) || !e.IsTimeout {
		t.Errorf("hasty caller: %v, want timeout", hastyErr)
	}
	if n := srv.total(); n != 2 {
		t.Errorf("total queries = %d, want 2", n)
	}
}

func TestMismatchedAnswersIgnored(t *testing.T) {
	srv := newTestServer(t, testZone())
	srv.set(func(s *testServer) { s.badFirst = true })
	r, _ := newTestResolver(t, "", srv)
	res, err := r.Lookup(context.Background(), "both.test")
	if err != nil {
		t.Fatal(err)
	}
	if want := addrs("2001:db8::1", "192.0.2.1", "192.0.2.2"); !slices.Equal(res.Addrs, want) || res.TCP {
		t.Errorf("Addrs = %v, TCP %v; want %v over UDP", res.Addrs, res.TCP, want)
	}
	if n := srv.total(); n != 2 {
		t.Errorf("total queries = %d, want 2 (no retry needed)", n)
	}
}

func TestServerFailover(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *testServer)
	}{
		{"SERVFAIL", func(s *testServer) { s.rcode = dnsmessage.RCodeServerFailure }},
		{"REFUSED", func(s *testServer) { s.rcode = dnsmessage.RCodeRefused }},
		{"no answer", func(s *testServer) { s.drop = true }},
		{"lame referral", func(s *testServer) { s.zone = map[string][]rec{"both.test.": nil}; s.noSOA, s.noRA = true, true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := newTestServer(t, testZone())
			good := newTestServer(t, testZone())
			bad.set(tt.setup)
			r, _ := newTestResolver(t, "", bad, good)
			r.Timeout = 100 * time.Millisecond
			res, err := r.Lookup(context.Background(), "both.test")
			if err != nil {
				t.Fatal(err)
			}
			if res.Server != good.addr || len(res.Addrs) != 3 {
				t.Errorf("Server, Addrs = %s, %v; want %s, 3 addrs", res.Server, res.Addrs, good.addr)
			}
			if bad.total() != 2 {
				t.Errorf("bad server got %d queries, want 2", bad.total())
			}
		})
	}
}

func TestServerFailure(t *testing.T) {
	srv := newTestServer(t, testZone())
	srv.set(func(s *testServer) { s.rcode = dnsmessage.RCodeServerFailure })
	r, _ := newTestResolver(t, "", srv)
	r.Attempts = 2
	_, err := r.Lookup(context.Background(), "both.test")
	var e *Error
	if !errors.As(err, &e) || e.IsNotFound || e.IsTimeout || !e.Temporary() || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Fatalf("err = %v, want a temporary SERVFAIL error", err)
	}
	if n := srv.total(); n != 4 {
		t.Errorf("total queries = %d, want 4 (2 attempts × 2 types)", n)
	}
	// Failures are not cached.
	r.Lookup(context.Background(), "both.test")
	if n := srv.total(); n != 8 {
		t.Errorf("total queries = %d, want 8", n)
	}
}

func TestInterleave(t *testing.T) {
	tests := []struct {
		in, want []netip.Addr
	}{
		{addrs(), addrs()},
		{addrs("192.0.2.1", "192.0.2.2"), addrs("192.0.2.1", "192.0.2.2")},
		{addrs("2001:db8::1", "2001:db8::2"), addrs("2001:db8::1", "2001:db8::2")},
		{addrs("192.0.2.1", "192.0.2.2", "2001:db8::1"), addrs("2001:db8::1", "192.0.2.1", "192.0.2.2")},
		{addrs("2001:db8::1", "2001:db8::2", "2001:db8::3", "192.0.2.1"), addrs("2001:db8::1", "192.0.2.1", "2001:db8::2", "2001:db8::3")},
		{addrs("2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2"), addrs("2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2")},
		{addrs("::ffff:192.0.2.1", "2001:db8::1"), addrs("2001:db8::1", "::ffff:192.0.2.1")},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := Interleave(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Interleave(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("Interleave modified its input")
		}
	}
}

func TestCacheEviction(t *testing.T) {
	c := newCache(2)
	now := time.Now()
	k := func(n string) cacheKey { return cacheKey{n, typeA} }
	ans := answer{addrs: addrs("192.0.2.1"), ttl: time.Minute}
	c.put(k("a."), ans, now)
	c.put(k("b."), ans, now)
	if _, ok := c.get(k("a."), now); !ok { // a becomes most recent
		t.Fatal("a missing")
	}
	c.put(k("c."), ans, now) // evicts b
	if _, ok := c.get(k("b."), now); ok {
		t.Error("b not evicted")
	}
	for _, n := range []string{"a.", "c."} {
		if _, ok := c.get(k(n), now); !ok {
			t.Errorf("%s evicted", n)
		}
	}
	if c.len() != 2 {
		t.Errorf("len = %d, want 2", c.len())
	}
	if _, ok := c.get(k("a."), now.Add(time.Minute)); ok || c.len() != 1 {
		t.Errorf("expired entry returned or kept")
	}
	c.put(k("z."), answer{ttl: 0}, now)
	if _, ok := c.get(k("z."), now); ok {
		t.Error("zero-TTL answer cached")
	}
}

func TestValidName(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := map[string]bool{
		"example.com": true, "example.com.": true, "a": true, "_srv.x-y.test": true,
		"": false, ".": false, "a..b": false, ".a": false, "a b": false, "a\\.b": false,
		long + ".test": true, long + "a.test": false,
		strings.Repeat("a.", 126) + "a": true, strings.Repeat("a.", 127) + "a": false,
	}
	for name, want := range tests {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRotate(t *testing.T) {
	s1 := newTestServer(t, testZone())
	s2 := newTestServer(t, testZone())
	r, _ := newTestResolver(t, "options rotate\n", s1, s2)
	r.CacheSize = -1
	for range 4 {
		if _, err := r.Lookup(context.Background(), "v4.test"); err != nil {
			t.Fatal(err)
		}
	}
	if s1.total() == 0 || s2.total() == 0 || s1.total()+s2.total() != 8 {
		t.Errorf("queries per server = %d, %d; want both used, 8 in all", s1.total(), s2.total())
	}
}
