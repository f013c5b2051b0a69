//go:build linux

package capture

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hop-http/hop/lab/link"
)

var (
	cliIP = net.IP{192, 0, 2, 10}
	webIP = net.IP{192, 0, 2, 80}
	dnsIP = net.IP{192, 0, 2, 53}
)

// builder makes packets of one conversation with gopacket's serializers.
type builder struct {
	t     *testing.T
	start time.Time
	pkts  []*link.Packet
}

func (b *builder) add(at time.Duration, src, dst int, fate link.Fate, ls ...gopacket.SerializableLayer) {
	b.t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		b.t.Fatal(err)
	}
	p := &link.Packet{Src: src, Dst: dst, Data: append([]byte(nil), buf.Bytes()...), Read: b.start.Add(at), Fate: fate}
	if fate == link.Delivered {
		p.Written = p.Read.Add(25 * time.Millisecond)
	}
	b.pkts = append(b.pkts, p)
}

func ip(src, dst net.IP, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: src, DstIP: dst}
}

// tcp is a segment from the client (up) or the web host, with absolute sequence
// numbers built from ISNs 1000 and 5000.
func (b *builder) tcp(at time.Duration, up bool, flags string, seq, ack uint32, payload []byte, fate link.Fate) {
	t := &layers.TCP{SrcPort: 40000, DstPort: 80, Window: 100, Seq: 1000 + seq, Ack: 5000 + ack}
	src, dst, s, d := cliIP, webIP, 0, 1
	if !up {
		t.SrcPort, t.DstPort = 80, 40000
		t.Seq, t.Ack = 5000+seq, 1000+ack
		src, dst, s, d = webIP, cliIP, 1, 0
	}
	for _, f := range strings.Split(flags, ",") {
		switch f {
		case "SYN":
			t.SYN = true
			t.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}}}
		case "ACK":
			t.ACK = true
		case "FIN":
			t.FIN = true
		case "PSH":
			t.PSH = true
		case "RST":
			t.RST = true
		}
	}
	if !t.ACK {
		t.Ack = 0
	}
	ipl := ip(src, dst, layers.IPProtocolTCP)
	t.SetNetworkLayerForChecksum(ipl)
	b.add(at, s, d, fate, ipl, t, gopacket.Payload(payload))
}

func TestDecode(t *testing.T) {
	b := &builder{t: t, start: time.Unix(1000, 0)}
	ms := time.Millisecond
	// DNS query and answer.
	q := &layers.DNS{ID: 7, RD: true, QDCount: 1, Questions: []layers.DNSQuestion{{Name: []byte("www.lab.test"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	u := &layers.UDP{SrcPort: 5353, DstPort: 53}
	ipq := ip(cliIP, dnsIP, layers.IPProtocolUDP)
	u.SetNetworkLayerForChecksum(ipq)
	b.add(0, 0, 2, link.Delivered, ipq, u, q)
	a := *q
	a.QR, a.ANCount = true, 1
	a.Answers = []layers.DNSResourceRecord{{Name: []byte("www.lab.test"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: webIP}}
	u2 := &layers.UDP{SrcPort: 53, DstPort: 5353}
	ipa := ip(dnsIP, cliIP, layers.IPProtocolUDP)
	u2.SetNetworkLayerForChecksum(ipa)
	b.add(50*ms, 2, 0, link.Delivered, ipa, u2, &a)

	req := []byte("GET / HTTP/1.1\r\nHost: web\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	b.tcp(60*ms, true, "SYN", 0, 0, nil, link.Delivered)
	b.tcp(110*ms, false, "SYN,ACK", 0, 1, nil, link.Delivered)
	b.tcp(111*ms, true, "ACK", 1, 1, nil, link.Delivered)
	b.tcp(112*ms, true, "PSH,ACK", 1, 1, req, link.Lost) // lost, then sent again
	b.tcp(320*ms, true, "PSH,ACK", 1, 1, req, link.Delivered)
	b.tcp(370*ms, false, "PSH,ACK", 1, 1+uint32(len(req)), resp, link.Delivered)
	b.tcp(371*ms, false, "FIN,ACK", 1+uint32(len(resp)), 1+uint32(len(req)), nil, link.Delivered)
	b.tcp(372*ms, true, "RST,ACK", 1+uint32(len(req)), 2+uint32(len(resp)), nil, link.Delivered)

	cp := Decode(b.pkts, []string{"client", "web", "dns"}, b.start)
	if len(cp.Records) != 10 {
		t.Fatalf("%d records", len(cp.Records))
	}
	r := cp.Records
	if r[0].Info != "DNS query A www.lab.test" || r[1].Info != "DNS answer A www.lab.test = 192.0.2.80" {
		t.Errorf("DNS: %q, %q", r[0].Info, r[1].Info)
	}
	if r[2].Flags != "SYN" || r[3].Flags != "SYN,ACK" || r[3].Ack != 1 || r[2].Seq != 0 {
		t.Errorf("handshake: %+v %+v", r[2], r[3])
	}
	if r[4].Win != 100<<7 {
		t.Errorf("window %d, want 100 scaled by 2^7", r[4].Win)
	}
	if r[5].Info != "GET / HTTP/1.1" || !r[5].Dropped() || r[5].Retrans {
		t.Errorf("first request: %+v", r[5])
	}
	if !r[6].Retrans || r[6].Info != "retransmission" {
		t.Errorf("second request: retrans %v %q", r[6].Retrans, r[6].Info)
	}
	if r[7].Info != "HTTP/1.1 200 OK" || r[7].Seq != 1 {
		t.Errorf("response: %q seq %d", r[7].Info, r[7].Seq)
	}
	if r[9].Flags != "RST,ACK" {
		t.Errorf("reset: %q", r[9].Flags)
	}
	if len(cp.Conns) != 1 {
		t.Fatalf("%d connections", len(cp.Conns))
	}
	c := cp.Conns[0]
	if c.Client != "client" || c.Server != "web" || c.Retransmits != 1 || c.Lost != 1 || !c.Reset ||
		c.BytesUp != len(req) || c.BytesDown != len(resp) {
		t.Errorf("conn %+v", c)
	}
	syn, synAck, ok := cp.Handshake(c)
	if !ok || synAck-syn != 75*ms { // SYN left at 60, SYN/ACK reached the client at 110+25
		t.Errorf("handshake at the client %v → %v", syn, synAck)
	}
	if at, ok := r[5].At("web"); ok {
		t.Errorf("a lost packet reached web at %v", at)
	}

	// pcapng at the client's end: what it sent (the lost request too), what reached it.
	var out bytes.Buffer
	if err := WritePcap(&out, "client", []Section{{Name: "client (test)", Capture: cp}}); err != nil {
		t.Fatal(err)
	}
	rd, err := pcapgo.NewNgReader(&out, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last time.Time
	for {
		data, ci, err := rd.ReadPacketData()
		if err != nil {
			break
		}
		if ci.Timestamp.Before(last) {
			t.Errorf("packet %d out of order", n)
		}
		last = ci.Timestamp
		if len(data) == 0 || data[0]>>4 != 4 {
			t.Errorf("packet %d is not IPv4", n)
		}
		n++
	}
	if n != 10 {
		t.Errorf("pcap has %d packets, want 10 (all are to or from the client)", n)
	}
	if rd.LinkType() != layers.LinkTypeRaw {
		t.Errorf("link type %v", rd.LinkType())
	}
}

// TLS records are followed along a direction across segments.
func TestTLSRecords(t *testing.T) {
	b := &builder{t: t, start: time.Unix(0, 0)}
	hello := append([]byte{22, 3, 1, 0, 8, 1}, make([]byte, 7)...) // a ClientHello record of 8 bytes
	appData := []byte{23, 3, 3, 0, 4, 1, 2, 3, 4}
	b.tcp(0, true, "SYN", 0, 0, nil, link.Delivered)
	b.tcp(time.Millisecond, true, "PSH,ACK", 1, 1, append(hello[:10:10], []byte{}...), link.Delivered)
	b.tcp(2*time.Millisecond, true, "PSH,ACK", 11, 1, append(hello[10:], appData...), link.Delivered)
	cp := Decode(b.pkts, []string{"client", "web"}, b.start)
	if got := cp.Records[1].Info; got != "TLS ClientHello" {
		t.Errorf("first segment: %q", got)
	}
	if got := cp.Records[2].Info; got != "TLS Application Data" {
		t.Errorf("second segment: %q", got)
	}
}

func TestHTTPLines(t *testing.T) {
	got := httpLines([]byte("HTTP/1.1 200 OK\r\nX: y\r\n\r\nbodyHTTP/1.1 404 Not Found\r\nGET /a HTTP/1.1\r\nnot HTTP/1.1\r\n"))
	want := []string{"HTTP/1.1 200 OK", "GET /a HTTP/1.1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}
