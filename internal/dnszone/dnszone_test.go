package dnszone

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hop-http/hop/resolve"
)

func serve(t *testing.T, s *Server) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skip("tcp port taken:", err)
	}
	go s.ServeUDP(pc)
	go s.ServeTCP(ln)
	t.Cleanup(func() { pc.Close(); ln.Close() })
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
