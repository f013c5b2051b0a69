package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hop-http/hop/internal/testcert"
	"github.com/hop-http/hop/internal/testnet"
	"github.com/hop-http/hop/resolve"
)

// testResolver resolves names from a DNS server the test runs (NXDOMAIN for the rest).
func testResolver(t *testing.T, zone map[string][]netip.Addr) *resolve.Resolver {
	dns := startDNS(t, zone)
	return &resolve.Resolver{Nameservers: []string{dns.addr}, HostsPath: "/nonexistent"}
}

// The Dialer resolves through its Resolver, races the addresses and returns a TCP
// connection with TCP_NODELAY; the trace sees each phase.
func TestDialerDial(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	d := &Dialer{Resolver: testResolver(t, map[string][]netip.Addr{
		"both.test.": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})}
	var events []string
	tr := &Trace{
		DNSDone:      func(i DNSInfo) { events = append(events, "dns "+fmtAddrs(i.Addrs)) },
		ConnectStart: func(a netip.AddrPort) { events = append(events, "try "+a.Addr().String()) },
	}
	nc, err := d.Dial(context.Background(), "both.test:"+port, tr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if nc.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.1" {
		t.Errorf("connected to %v", nc.RemoteAddr())
	}
	if len(events) < 2 || !strings.HasPrefix(events[0], "dns ") || !strings.HasPrefix(events[1], "try ") {
		t.Errorf("events %q", events)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if b, _ := io.ReadAll(nc); !strings.HasSuffix(string(b), "GET /d ") {
		t.Errorf("response %q", b)
	}
}

// Failures say which phase failed; a name that does not exist reads
// "resolve NAME: no such host", once, in the Dialer's error and in the Client's.
func TestDialerErrors(t *testing.T) {
	r := testResolver(t, nil)
	d := &Dialer{Resolver: r}
	_, err := d.Dial(context.Background(), "missing.test:80", nil)
	var de *DialError
	if !errors.As(err, &de) || de.Op != "resolve" || err.Error() != "resolve missing.test: no such host" ||
		!errors.Is(err, resolve.ErrNotFound) {
		t.Errorf("resolve failure: %v", err)
	}
	cl := newClient(t, &Client{Resolver: r})
	var req Request
	req.SetURL("http://missing.test/")
	var resp Response
	err = cl.Do(&req, &resp)
	if want := "hop/client: GET http://missing.test/: resolve missing.test: no such host"; err == nil || err.Error() != want {
		t.Errorf("client error %q, want %q", err, want)
	}
	port := freePort(t)
	_, err = d.Dial(context.Background(), net.JoinHostPort("127.0.0.1", itoa(port)), nil)
	if !errors.As(err, &de) || de.Op != "connect" || !strings.Contains(err.Error(), "refused") {
		t.Errorf("connect failure: %v", err)
	}
	for _, bad := range []string{"no-port", "host:99999", "host:http"} {
		if _, err := d.Dial(context.Background(), bad, nil); !errors.As(err, &de) {
			t.Errorf("Dial(%q) = %v", bad, err)
		}
	}
}

// DialTLS runs the handshake (SNI from the host, ALPN http/1.1) after the connect.
func TestDialerDialTLS(t *testing.T) {
	url, hellos := startHopTLS(t, echoConn)
	port := url[strings.LastIndexByte(url, ':')+1:]
	tc := testcert.New(t, "localhost", "hop.test", "127.0.0.1", "::1")
	d := &Dialer{Resolve: map[string][]netip.Addr{"hop.test:" + port: {netip.MustParseAddr("127.0.0.1")}}}
	var tlsDone bool
	c, err := d.DialTLS(context.Background(), "hop.test:"+port, &tls.Config{RootCAs: tc.Pool},
		&Trace{TLSDone: func(s *tls.ConnectionState, err error) { tlsDone = s != nil && err == nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := c.ConnectionState(); st.NegotiatedProtocol != "http/1.1" || st.ServerName != "hop.test" || !tlsDone {
		t.Errorf("ALPN %q SNI %q, trace %v", st.NegotiatedProtocol, st.ServerName, tlsDone)
	}
	if h := hellos(); len(h) == 0 || !strings.HasPrefix(h[0], "hop.test ") {
		t.Errorf("hellos %q", h)
	}
	// Against an untrusted certificate: a "tls" DialError.
	_, err = (&Dialer{}).DialTLS(context.Background(), "127.0.0.1:"+port, nil, nil)
	var de *DialError
	if !errors.As(err, &de) || de.Op != "tls" {
		t.Errorf("untrusted: %v", err)
	}
}

// One deadline covers the connection set-up: a server that accepts TCP and never
// answers the TLS handshake fails the request after ConnectTimeout, as a timeout in
// the "tls" phase (the handshake used to have its own 10 s).
func TestConnectTimeoutCoversTLS(t *testing.T) {
	addr := testnet.Raw(t, func(c net.Conn, _ int) {
		io.Copy(io.Discard, c) // reads the ClientHello, answers nothing
	})
	cl := newClient(t, &Client{ConnectTimeout: 300 * time.Millisecond})
	var req Request
	req.SetURL("https://" + addr + "/")
	var resp Response
	start := time.Now()
	err := cl.Do(&req, &resp)
	var e *Error
	if !errors.As(err, &e) || e.Op != "tls" || !e.Timeout() {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: the handshake is not under ConnectTimeout", d)
	}
	// The Dialer alike.
	d := &Dialer{Timeout: 300 * time.Millisecond}
	start = time.Now()
	_, err = d.DialTLS(context.Background(), addr, &tls.Config{InsecureSkipVerify: true}, nil)
	var de *DialError
	if !errors.As(err, &de) || de.Op != "tls" || !de.Timeout() || time.Since(start) > 5*time.Second {
		t.Errorf("Dialer: %v after %v", err, time.Since(start))
	}
}

// DialContext fits net/http's Transport; tcp4 and tcp6 keep one family.
func TestDialerDialContext(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	d := &Dialer{Resolver: testResolver(t, map[string][]netip.Addr{
		"both.test.": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://both.test:" + port + "/nethttp")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "GET /nethttp " {
		t.Errorf("body %q", b)
	}
	c, err := d.DialContext(context.Background(), "tcp4", "both.test:"+port)
	if err != nil {
		t.Fatal(err)
	}
	if !c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Is4() {
		t.Errorf("tcp4 connected to %v", c.RemoteAddr())
	}
	c.Close()
	if _, err := d.DialContext(context.Background(), "udp", "both.test:"+port); err == nil {
		t.Error("udp accepted")
	}
}

// With HappyEyeballsDelay negative there is no race: the second address is tried only
// when the first fails (here the first one never answers, so the dial times out).
func TestHappyEyeballsOff(t *testing.T) {
	base := startHop(t, echoConn)
	port := base[strings.LastIndexByte(base, ':')+1:]
	var attempts []string
	d := &Dialer{HappyEyeballsDelay: -1, Timeout: 400 * time.Millisecond,
		Resolve: map[string][]netip.Addr{"x.test:" + port: {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}},
		DialFunc: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "[::1]") {
				<-ctx.Done() // a black hole
				return nil, ctx.Err()
			}
			var nd net.Dialer
			return nd.DialContext(ctx, network, addr)
		}}
	tr := &Trace{ConnectStart: func(a netip.AddrPort) { attempts = append(attempts, a.String()) }}
	if _, err := d.Dial(context.Background(), "x.test:"+port, tr); err == nil {
		t.Fatal("connected through a black hole without racing")
	}
	if len(attempts) != 1 {
		t.Errorf("attempts %q, want only the first address", attempts)
	}
	d.HappyEyeballsDelay = 0 // the default race reaches 127.0.0.1 after 250 ms
	d.Timeout = 10 * time.Second
	attempts = nil
	c, err := d.Dial(context.Background(), "x.test:"+port, tr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if len(attempts) != 2 {
		t.Errorf("attempts %q", attempts)
	}
}
