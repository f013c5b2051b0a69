package client

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/resolve"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a tiny authoritative DNS server over UDP on loopback: it answers A and
// AAAA queries from zone (FQDN → addresses) and counts the queries.
type dnsServer struct {
	addr    string
	queries atomic.Int32
}

func startDNS(t *testing.T, zone map[string][]netip.Addr) *dnsServer {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &dnsServer{addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			s.queries.Add(1)
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true})
			b.EnableCompression()
			addrs, known := zone[strings.ToLower(q.Name.String())]
			if !known {
				b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeNameError})
			}
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			for _, a := range addrs {
				rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
				switch {
				case q.Type == dnsmessage.TypeA && a.Is4():
					b.AResource(rh, dnsmessage.AResource{A: a.As4()})
				case q.Type == dnsmessage.TypeAAAA && a.Is6():
					b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
				}
			}
			msg, err := b.Finish()
			if err == nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	return s
}

// A name served by a DNS server the test runs resolves to both ::1 (where nothing
// listens) and 127.0.0.1: Happy Eyeballs tries ::1 first, is refused, and connects to
// 127.0.0.1.
func TestDNSAndHappyEyeballsFallback(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	// Make sure nothing listens on [::1]:port.
	if ln, err := net.Listen("tcp", "[::1]:"+port); err == nil {
		ln.Close()
	}
	dns := startDNS(t, map[string][]netip.Addr{
		"hop.test.": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})
	res := &resolve.Resolver{Nameservers: []string{dns.addr}, HostsPath: "/nonexistent", ResolvConfPath: "/nonexistent",
		Timeout: 2 * time.Second}
	var mu sync.Mutex
	var events []string
	add := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	cl := newClient(t, &Client{Resolver: res, Trace: &Trace{
		DNSDone:      func(i DNSInfo) { add("dns " + i.Source + " " + fmtAddrs(i.Addrs)) },
		ConnectStart: func(a netip.AddrPort) { add("try " + a.String()) },
		ConnectDone: func(a netip.AddrPort, err error) {
			if err != nil {
				add("fail " + a.String())
			} else {
				add("ok " + a.String())
			}
		},
	}})
	r := get(t, cl, "http://hop.test:"+port+"/")
	if r.Status != 200 || !strings.HasPrefix(r.RemoteAddr.String(), "127.0.0.1:") {
		t.Fatalf("status %d remote %v", r.Status, r.RemoteAddr)
	}
	want := "dns dns [::1 127.0.0.1]|try [::1]:" + port + "|fail [::1]:" + port + "|try 127.0.0.1:" + port + "|ok 127.0.0.1:" + port
	if got := strings.Join(events, "|"); got != want {
		t.Errorf("events %s\nwant   %s", got, want)
	}
	if dns.queries.Load() < 1 {
		t.Error("the DNS server was not asked")
	}
	// The second request reuses the connection: no lookup.
	q := dns.queries.Load()
	if r := get(t, cl, "http://hop.test:"+port+"/"); !r.Reused || dns.queries.Load() != q {
		t.Error("second request resolved again or did not reuse")
	}
	// A name the server does not know.
	var req Request
	req.SetURL("http://missing.test:" + port + "/")
	var resp Response
	err := cl.Do(&req, &resp)
	var re *resolve.Error
	if !errors.As(err, &re) || !re.IsNotFound {
		t.Errorf("err = %v, want not found", err)
	}
}

func fmtAddrs(a []netip.Addr) string {
	s := make([]string, len(a))
	for i := range a {
		s[i] = a[i].String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// The first address hangs (a black hole): after HappyEyeballsDelay the second is
// tried, wins, and the hanging attempt is abandoned.
func TestHappyEyeballsDelay(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	hang := netip.MustParseAddr("::1")
	var abandoned atomic.Bool
	d := net.Dialer{}
	var starts []time.Time
	var mu sync.Mutex
	cl := newClient(t, &Client{
		HappyEyeballsDelay: 100 * time.Millisecond,
		Resolve:            map[string][]netip.Addr{"dual.test:" + port: {hang, netip.MustParseAddr("127.0.0.1")}},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "[::1]") {
				<-ctx.Done() // a black hole: no answer until abandoned
				abandoned.Store(true)
				return nil, ctx.Err()
			}
			return d.DialContext(ctx, network, addr)
		},
		Trace: &Trace{ConnectStart: func(netip.AddrPort) {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
		}},
	})
	r := get(t, cl, "http://dual.test:"+port+"/")
	if r.Status != 200 {
		t.Fatal(r.Status)
	}
	testnet.WaitFor(t, "the hanging attempt to be abandoned", abandoned.Load)
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != 2 {
		t.Fatalf("%d attempts", len(starts))
	}
	if gap := starts[1].Sub(starts[0]); gap < 90*time.Millisecond {
		t.Errorf("second attempt after %v, want the 100 ms delay", gap)
	}
}

func TestResolveOverride(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	var source string
	cl := newClient(t, &Client{
		Resolve: map[string][]netip.Addr{"example.invalid:" + port: {netip.MustParseAddr("127.0.0.1")}},
		Trace:   &Trace{DNSDone: func(i DNSInfo) { source = i.Source }},
	})
	r := get(t, cl, "http://example.invalid:"+port+"/")
	if r.Status != 200 || source != "override" {
		t.Errorf("status %d source %q", r.Status, source)
	}
}
