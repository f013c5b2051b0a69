//go:build linux

package lab

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hop-http/hop/client"
	"github.com/hop-http/hop/internal/dnszone"
	"github.com/hop-http/hop/internal/selfsigned"
	"github.com/hop-http/hop/internal/timeline"
	"github.com/hop-http/hop/resolve"
	"github.com/hop-http/hop/server"
)

// labDomain is the name the url experiment types.
const labDomain = "www.lab.test"

// runURL walks the guide's "type a URL" sequence with hop's resolver and client
// against the lab's DNS host and an HTTPS server on the web host.
func runURL(e *env) error {
	rtt := e.rtt()
	dnsHost, web, cli := e.host("dns"), e.host("web"), e.host("client")

	zone := &dnszone.Server{Zone: map[string][]netip.Addr{labDomain + ".": {web.Addr}}}
	pc, err := dnsHost.ListenPacket("udp", ":53")
	if err != nil {
		return err
	}
	ln, err := dnsHost.Listen("tcp", ":53")
	if err != nil {
		pc.Close()
		return err
	}
	go zone.ServeUDP(pc)
	go zone.ServeTCP(ln)
	e.cleanup(func() { pc.Close(); ln.Close() })

	cert, err := selfsigned.CertificateFor([]string{labDomain}, 24*time.Hour)
	if err != nil {
		return err
	}
	pool, err := selfsigned.Pool(cert)
	if err != nil {
		return err
	}
	if _, _, err := e.startServer("web", 443, webHandler(), func(s *server.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "hoplab-resolv")
	if err != nil {
		return err
	}
	e.cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver "+dnsHost.Addr.String()+"\n"), 0o644); err != nil {
		return err
	}
	r := &resolve.Resolver{
		ResolvConfPath: conf,
		HostsPath:      filepath.Join(dir, "hosts"), // absent: every name goes to DNS
		Timeout:        max(2*time.Second, 4*rtt),
		Attempts:       2,
		Dial:           cli.Dial,
	}
	c := e.newClient(func(c *client.Client) {
		c.Resolver = r
		c.TLSConfig = &tls.Config{RootCAs: pool}
	})

	var tm *client.Timings
	var resp *client.Response
	var tlsVersion uint16
	err = e.leg("GET https://"+labDomain+"/", func() error {
		var err error
		resp, tm, err = e.get(c, "https://"+labDomain+"/", func(req *client.Request) {
			req.Close = true // so that the walk ends with the connection's close
			req.Trace = &client.Trace{TLSDone: func(st *tls.ConnectionState, err error) {
				if st != nil {
					tlsVersion = st.Version
				}
			}}
		})
		if err != nil {
			return err
		}
		// Let the four-way close finish on the wire.
		return e.sleep(2*rtt + 100*time.Millisecond)
	})
	if err != nil {
		return err
	}
	for _, ev := range []struct {
		label string
		at    time.Time
	}{
		{"DNS query", tm.DNSStart}, {"DNS answer", tm.DNSDone}, {"connect", tm.ConnectStart},
		{"connected", tm.ConnectDone}, {"TLS start", tm.TLSStart}, {"TLS done", tm.TLSDone},
		{"request written", tm.WroteRequest}, {"first byte", tm.FirstByte}, {"body done", tm.Done},
	} {
		if !ev.at.IsZero() {
			e.event("client", ev.label, ev.at)
		}
	}

	e.waterfall("GET https://"+labDomain+"/ → "+fmt.Sprint(resp.Status)+", a new connection", tm)
	tlsRTT := time.Duration(1)
	tlsName := "TLS 1.3"
	if tlsVersion != tls.VersionTLS13 {
		tlsRTT, tlsName = 2, tls.VersionName(tlsVersion)
	}
	e.measureMs("dns_ms", "DNS (A and AAAA in parallel over UDP)", tm.DNS(), rtt)
	e.measureMs("connect_ms", "TCP connect (SYN → SYN/ACK)", tm.Connect(), rtt)
	e.measureMs("tls_ms", tlsName+" handshake", tm.TLS(), tlsRTT*rtt)
	e.measure("request_ms", "request written", "ms", timeline.Millis(tm.Request()))
	e.measureMs("wait_ms", "request → first byte", tm.Wait(), rtt)
	e.measure("transfer_ms", "first byte → body done", "ms", timeline.Millis(tm.Transfer()))
	total := (3 + tlsRTT) * rtt
	e.measureMs("total_ms", "total", tm.Total(), total)
	closeDur, resetBy, ok := closeTime(e)
	reset := resetBy != ""
	if ok {
		e.measureMs("close_ms", "close (first FIN → last packet, at the client)", closeDur, rtt)
		e.measurePred("close_reset", "the close ended in a reset (1/0)", "", b2f(reset), 0)
	}
	e.measure("status", "status", "", float64(resp.Status))
	e.measure("body_bytes", "body", "bytes", float64(len(resp.Body)))

	e.check(resp.Status == 200, "status %d", resp.Status)
	e.near("DNS", tm.DNS(), rtt, tolerance(rtt))
	e.near("connect", tm.Connect(), rtt, tolerance(rtt))
	e.near("TLS", tm.TLS(), tlsRTT*rtt, tolerance(tlsRTT*rtt))
	e.near("first byte", tm.Wait(), rtt, tolerance(rtt))
	e.near("total", tm.Total(), total, tolerance(total))
	if e.check(ok, "the close was seen on the wire") {
		what := "the connection closed with FIN and ACK both ways, without a reset"
		if reset {
			what += " (" + resetBy + " reset it)"
		}
		if e.check(!reset, "%s", what) {
			e.near("close", closeDur, rtt, tolerance(rtt))
		}
	}
	labels := []string{"dns", "connect", "tls", "first byte", "close"}
	e.plot(Plot{Title: "Each step of the walk", XLabel: "step", YLabel: "ms", Kind: "bar", Series: []Series{
		{Name: "measured", Labels: labels, Y: []float64{timeline.Millis(tm.DNS()), timeline.Millis(tm.Connect()), timeline.Millis(tm.TLS()), timeline.Millis(tm.Wait()), timeline.Millis(closeDur)}},
		{Name: "predicted", Labels: labels, Y: []float64{timeline.Millis(rtt), timeline.Millis(rtt), timeline.Millis(tlsRTT * rtt), timeline.Millis(rtt), timeline.Millis(rtt)}, Dashed: true},
	}})
	closing := ""
	if reset {
		// A socket closed with data still arriving (the peer's TLS close_notify, sent
		// as its part of the close) answers it with a reset.
		closing = "; " + resetBy + " reset the connection at the close: TLS data (the other side's close_notify) reached a socket it had closed without reading"
	}
	e.note("%s: DNS %s, connect %s, %s %s, first byte %s after the request, total %s (%.1f RTT)%s",
		labDomain, fmtMs(tm.DNS()), fmtMs(tm.Connect()), tlsName, fmtMs(tm.TLS()), fmtMs(tm.Wait()),
		fmtMs(tm.Total()), rtts(tm.Total(), rtt), closing)
	return nil
}

// closeTime finds, at the client's end of its TCP connection, the time from the first
// FIN to the connection's last packet, and the host that reset the connection ("" for
// none).
func closeTime(e *env) (time.Duration, string, bool) {
	cp := e.capture()
	for _, c := range cp.ConnsOf("client") {
		var fin, last time.Duration = -1, -1
		resetBy := ""
		for _, i := range c.Records {
			r := &cp.Records[i]
			at, ok := r.At("client")
			if !ok {
				continue
			}
			if fin < 0 && strings.Contains(r.Flags, "FIN") {
				fin = at
			}
			if fin >= 0 {
				last = max(last, at)
			}
			if resetBy == "" && strings.Contains(r.Flags, "RST") {
				resetBy = r.Src
			}
		}
		if fin >= 0 && last >= fin {
			return last - fin, resetBy, true
		}
	}
	return 0, "", false
}
