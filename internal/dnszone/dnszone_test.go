package dnszone

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/resolve"
)

// serve runs s on a free UDP port and the TCP port of the same number.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	pc, ln := testnet.UDPAndTCP(t)
	go s.ServeUDP(pc)
	go s.ServeTCP(ln)
	return pc.LocalAddr().String()
}

// hop's own resolver is the client: the answers must satisfy it.
func resolver(t *testing.T, addr string) *resolve.Resolver {
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	os.WriteFile(rc, nil, 0o644)
	return &resolve.Resolver{Nameservers: []string{addr}, HostsPath: filepath.Join(dir, "none"),
		ResolvConfPath: rc, Timeout: 2 * time.Second, Attempts: 1}
}

func TestAnswers(t *testing.T) {
	s := &Server{Zone: map[string][]netip.Addr{
		"www.lab.test.": {netip.MustParseAddr("192.0.2.80"), netip.MustParseAddr("2001:db8::80")},
		"v4.lab.test.":  {netip.MustParseAddr("192.0.2.81")},
	}}
	r := resolver(t, serve(t, s))
	res, err := r.Lookup(context.Background(), "WWW.lab.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Addrs) != 2 {
		t.Errorf("www: %v", res.Addrs)
	}
	res, err = r.Lookup(context.Background(), "v4.lab.test")
	if err != nil || len(res.Addrs) != 1 || res.Addrs[0] != netip.MustParseAddr("192.0.2.81") {
		t.Errorf("v4: %v %v", res, err)
	}
	_, err = r.Lookup(context.Background(), "nope.lab.test")
	var re *resolve.Error
	if !errors.As(err, &re) || !re.IsNotFound {
		t.Errorf("nope: %v", err)
	}
	if s.Queries() < 5 {
		t.Errorf("queries %d", s.Queries())
	}
}

// query packs a question for name and type t, with extra additional records.
func query(t *testing.T, name string, typ dnsmessage.Type, extra ...dnsmessage.Resource) []byte {
	t.Helper()
	m := dnsmessage.Message{
		Header:      dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions:   []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}},
		Additionals: extra,
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A name in the zone without records of the asked type is NODATA (NOERROR, no
// answer); a name outside it NXDOMAIN; both with the zone's SOA (RFC 2308).
func TestNegativeAnswers(t *testing.T) {
	s := &Server{Zone: map[string][]netip.Addr{"v4.lab.test.": {netip.MustParseAddr("192.0.2.81")}}}
	for _, tc := range []struct {
		name  string
		typ   dnsmessage.Type
		rcode dnsmessage.RCode
	}{
		{"v4.lab.test.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess},
		{"nope.lab.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError},
		{"nope.lab.test.", dnsmessage.TypeAAAA, dnsmessage.RCodeNameError},
	} {
		b, ok := s.answer(query(t, tc.name, tc.typ), 512)
		if !ok {
			t.Fatalf("%s %v: no answer", tc.name, tc.typ)
		}
		var m dnsmessage.Message
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		if m.RCode != tc.rcode || !m.Response || !m.Authoritative || m.ID != 7 || len(m.Answers) != 0 {
			t.Errorf("%s %v: rcode %v, %d answers, header %+v; want %v and none", tc.name, tc.typ, m.RCode, len(m.Answers), m.Header, tc.rcode)
		}
		if len(m.Authorities) != 1 || m.Authorities[0].Header.Type != dnsmessage.TypeSOA || m.Authorities[0].Header.Name.String() != "lab.test." {
			t.Errorf("%s %v: authority section %v, want the SOA of lab.test.", tc.name, tc.typ, m.Authorities)
		}
	}
	// The positive answer, for contrast: NOERROR with the record and no SOA.
	b, _ := s.answer(query(t, "V4.lab.test.", dnsmessage.TypeA), 512)
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil || m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 1 || len(m.Authorities) != 0 {
		t.Errorf("A v4.lab.test: %v %+v", err, m)
	}
}

// A query over TCP may be longer than 512 bytes (its length prefix allows 65535): the
// server reads it whole and answers.
func TestLongTCPQuery(t *testing.T) {
	s := &Server{Zone: map[string][]netip.Addr{"www.lab.test.": {netip.MustParseAddr("192.0.2.80")}}}
	addr := serve(t, s)
	pad := dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("pad.lab.test."), Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET},
		Body:   &dnsmessage.TXTResource{TXT: []string{strings.Repeat("x", 250), strings.Repeat("y", 250), strings.Repeat("z", 250)}},
	}
	q := query(t, "www.lab.test.", dnsmessage.TypeA, pad)
	if len(q) <= 512 {
		t.Fatalf("query of %d bytes is not long", len(q))
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err != nil {
		t.Fatal(err)
	}
	var lb [2]byte
	if _, err := io.ReadFull(c, lb[:]); err != nil {
		t.Fatalf("no answer to a %d-byte query: %v", len(q), err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil || m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 1 {
		t.Errorf("answer %v %+v", err, m)
	}
}

func TestTruncatedOverUDPWholeOverTCP(t *testing.T) {
	var many []netip.Addr
	for i := range 60 {
		many = append(many, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}))
	}
	s := &Server{Zone: map[string][]netip.Addr{"big.lab.test.": many}}
	r := resolver(t, serve(t, s))
	res, err := r.Lookup(context.Background(), "big.lab.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Addrs) != 60 {
		t.Errorf("got %d addresses, want 60 (TCP retry after truncation)", len(res.Addrs))
	}
}
