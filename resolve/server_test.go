package resolve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// rec is one record of the test zone: an A or AAAA address, or a CNAME
// target.
type rec struct {
	typ dnsmessage.Type
	val string
	ttl uint32
}

func a(ip string, ttl uint32) rec     { return rec{dnsmessage.TypeA, ip, ttl} }
func aaaa(ip string, ttl uint32) rec  { return rec{dnsmessage.TypeAAAA, ip, ttl} }
func cname(to string, ttl uint32) rec { return rec{dnsmessage.TypeCNAME, to, ttl} }

type seenQuery struct {
	name string
	typ  dnsmessage.Type
	tcp  bool
}

// testServer is a small recursive-looking DNS server on 127.0.0.1, on the
// same port for UDP and TCP. Names absent from the zone get NXDOMAIN, names
// present without records of the asked type get NODATA, both with an SOA
// record whose minimum is negTTL.
type testServer struct {
	t    testing.TB
	addr string
	udp  net.PacketConn
	tcp  net.Listener

	mu          sync.Mutex
	zone        map[string][]rec // keys: lower-case FQDN
	negTTL      uint32           // SOA minimum
	noSOA       bool             // negative answers carry no SOA
	noRA        bool             // answers do not set RA (recursion available)
	truncate    bool             // UDP answers are truncated (TC, no records)
	delay       time.Duration    // wait before answering
	drop        bool             // never answer
	rcode       dnsmessage.RCode // if not success, answer every query with it
	badFirst    bool             // precede each UDP answer by mismatched ones
	queries     []seenQuery
	inflight    int
	maxInflight int
}

func newTestServer(t testing.TB, zone map[string][]rec) *testServer {
	t.Helper()
	s := &testServer{t: t, zone: zone, negTTL: 60}
	for i := 0; ; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			if i < 20 {
				continue
			}
			t.Fatal(err)
		}
		s.udp, s.tcp, s.addr = pc, ln, pc.LocalAddr().String()
		break
	}
	t.Cleanup(func() { s.udp.Close(); s.tcp.Close() })
	go s.serveUDP()
	go s.serveTCP()
	return s
}

func (s *testServer) set(f func(s *testServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// count returns how many queries for name (FQDN) and typ were received, over
// UDP and over TCP.
func (s *testServer) count(name string, typ dnsmessage.Type) (udp, tcp int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queries {
		if q.name == name && q.typ == typ {
			if q.tcp {
				tcp++
			} else {
				udp++
			}
		}
	}
	return udp, tcp
}

func (s *testServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queries)
}

// names returns the names of the queries of type typ, in arrival order.
func (s *testServer) names(typ dnsmessage.Type) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, q := range s.queries {
		if q.typ == typ {
			out = append(out, q.name)
		}
	}
	return out
}

func (s *testServer) serveUDP() {
	buf := make([]byte, 4096)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		go func() {
			for _, resp := range s.handle(pkt, false) {
				s.udp.WriteTo(resp, from)
			}
		}()
	}
}

func (s *testServer) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			for {
				var lb [2]byte
				if _, err := io.ReadFull(c, lb[:]); err != nil {
					return
				}
				pkt := make([]byte, int(lb[0])<<8|int(lb[1]))
				if _, err := io.ReadFull(c, pkt); err != nil {
					return
				}
				for _, resp := range s.handle(pkt, true) {
					out := append([]byte{byte(len(resp) >> 8), byte(len(resp))}, resp...)
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}
		}()
	}
}

// handle returns the messages to send in reply to pkt.
func (s *testServer) handle(pkt []byte, tcp bool) [][]byte {
	var p dnsmessage.Parser
	h, err := p.Start(pkt)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())

	s.mu.Lock()
	s.queries = append(s.queries, seenQuery{name, q.Type, tcp})
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	delay, drop, badFirst := s.delay, s.drop, s.badFirst
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()

	if delay > 0 {
		time.Sleep(delay)
	}
	if drop {
		return nil
	}
	var out [][]byte
	if badFirst && !tcp {
		out = append(out, s.build(h.ID+1, q, tcp)) // wrong ID
		other := q
		other.Name = dnsmessage.MustNewName("other.test.")
		out = append(out, s.build(h.ID, other, tcp)) // wrong question
		out = append(out, []byte{1, 2, 3})           // garbage
	}
	return append(out, s.build(h.ID, q, tcp))
}

// build makes the answer to q.
func (s *testServer) build(id uint16, q dnsmessage.Question, tcp bool) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	hdr := dnsmessage.Header{ID: id, Response: true, RecursionDesired: true, RecursionAvailable: !s.noRA}
	var answers []dnsmessage.Resource
	name := strings.ToLower(q.Name.String())
	_, exists := s.zone[name]
	for range 20 {
		recs, ok := s.zone[name]
		if !ok {
			break
		}
		next := ""
		for _, r := range recs {
			rh := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: r.typ, Class: dnsmessage.ClassINET, TTL: r.ttl}
			switch {
			case r.typ == dnsmessage.TypeCNAME:
				answers = append(answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(r.val)}})
				next = r.val
			case r.typ == q.Type && r.typ == dnsmessage.TypeA:
				answers = append(answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AResource{A: netip.MustParseAddr(r.val).As4()}})
			case r.typ == q.Type && r.typ == dnsmessage.TypeAAAA:
				answers = append(answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr(r.val).As16()}})
			}
		}
		if next == "" {
			break
		}
		name = next
	}
	msg := dnsmessage.Message{Header: hdr, Questions: []dnsmessage.Question{q}}
	switch {
	case s.rcode != dnsmessage.RCodeSuccess:
		msg.RCode = s.rcode
	case s.truncate && !tcp:
		msg.Truncated = true
	default:
		msg.Answers = answers
		if !exists {
			msg.RCode = dnsmessage.RCodeNameError
		}
		if len(answers) == 0 || !exists {
			if !s.noSOA {
				msg.Authorities = []dnsmessage.Resource{{
					Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("test."), Type: dnsmessage.TypeSOA, Class: dnsmessage.ClassINET, TTL: 86400},
					Body: &dnsmessage.SOAResource{
						NS: dnsmessage.MustNewName("ns.test."), MBox: dnsmessage.MustNewName("admin.test."),
						Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, MinTTL: s.negTTL,
					},
				}}
			}
		}
	}
	b, err := msg.Pack()
	if err != nil {
		s.t.Errorf("test server: pack: %v", err)
		return nil
	}
	return b
}

// fakeClock is an injectable clock for TTL and file-check tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestResolver returns a Resolver that talks only to the given servers,
// with resolv.conf contents conf and no hosts file, and a fake clock.
func newTestResolver(t testing.TB, conf string, servers ...*testServer) (*Resolver, *fakeClock) {
	t.Helper()
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(rc, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	r := &Resolver{
		HostsPath:      filepath.Join(dir, "hosts-does-not-exist"),
		ResolvConfPath: rc,
		Timeout:        2 * time.Second,
		Attempts:       1,
		now:            clk.Now,
	}
	for _, s := range servers {
		r.Nameservers = append(r.Nameservers, s.addr)
	}
	// Refuse anything but loopback test ports, so no test can reach the
	// real network or the system's name server.
	r.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 53 {
			return nil, errors.New("test dialer: refusing " + network + " " + addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return r, clk
}
