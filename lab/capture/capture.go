//go:build linux

package capture

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/hop-http/hop/lab/link"
)

// Record is one decoded packet.
type Record struct {
	N        int    // position in the capture, from 0
	Src, Dst string // host names ("?" when unknown)
	SrcAddr  netip.AddrPort
	DstAddr  netip.AddrPort
	Sent     time.Duration // taken off the source's device, since the capture's start
	Arrived  time.Duration // written to the destination's device; -1 when it was not
	Fate     link.Fate
	Proto    string // "TCP", "UDP", "ICMP" or "IP"
	Size     int    // IP packet length

	// TCP
	Conn    int    // connection number, from 1 in order of appearance; 0 for other protocols
	Flags   string // "SYN", "SYN,ACK", "ACK", "PSH,ACK", "FIN,ACK", "RST", ...
	Seq     uint32 // relative to the direction's initial sequence number
	Ack     uint32 // relative to the other direction's; 0 without ACK
	Win     int    // advertised window in bytes (scaled as the SYNs agreed)
	Len     int    // TCP payload bytes
	Retrans bool   // a segment (or SYN/FIN) carrying sequence space already sent

	Info string // what it carries, for people
	Data []byte // the raw IP packet
	// Time is the wall-clock time the packet was read from its source.
	Time time.Time
}

// At returns the time of r at host's end of the link: when it left host, or when it
// reached host; ok is false when host neither sent nor received it.
func (r *Record) At(host string) (time.Duration, bool) {
	switch {
	case r.Src == host:
		return r.Sent, true
	case r.Dst == host && r.Arrived >= 0:
		return r.Arrived, true
	}
	return 0, false
}

// Dropped reports whether the link dropped the packet.
func (r *Record) Dropped() bool { return r.Fate != link.Delivered }

// Conn is one TCP connection seen on the link.
type Conn struct {
	ID             int
	Client, Server string // host names; the client sent the first SYN (or packet)
	ClientAddr     netip.AddrPort
	ServerAddr     netip.AddrPort
	Records        []int // indexes into Capture.Records
	BytesUp        int   // payload bytes client → server (first transmissions)
	BytesDown      int   // payload bytes server → client
	Retransmits    int
	Lost           int // packets of the connection the link dropped
	Reset          bool
	First, Last    time.Duration // Sent of the first record, and the last time seen
	key            flowKey
}

// Capture is a decoded recording.
type Capture struct {
	Start   time.Time // time zero of the Durations
	Records []Record
	Conns   []*Conn
	Hosts   []string // host names by link port
}

type flowKey struct{ a, b netip.AddrPort } // a < b

func keyOf(x, y netip.AddrPort) flowKey {
	if x.Compare(y) < 0 {
		return flowKey{x, y}
	}
	return flowKey{y, x}
}

// half is the state of one direction of a connection.
type half struct {
	isnKnown bool
	isn      uint32
	high     uint32 // highest relative sequence number sent + 1 (SYN and FIN count)
	sent     bool
	wscale   int // the shift this side announced in its SYN; -1 when none
	tlsNext  uint32
	tlsOn    bool // following TLS records
	tlsLost  bool // lost track (a record header split across segments)
}

type connState struct {
	c    *Conn
	dirs map[netip.AddrPort]*half // by sender
}

// Decode decodes pkts (as recorded by the lab, ordered by Read time); hosts names the
// link's ports; start is time zero.
func Decode(pkts []*link.Packet, hosts []string, start time.Time) *Capture {
	cp := &Capture{Start: start, Hosts: hosts}
	var (
		ip4     layers.IPv4
		tcp     layers.TCP
		udp     layers.UDP
		icmp    layers.ICMPv4
		payload gopacket.Payload
		dns     layers.DNS
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeIPv4, &ip4, &tcp, &udp, &icmp, &payload)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 4)
	conns := map[flowKey]*connState{}
	name := func(n int) string {
		if n >= 0 && n < len(hosts) {
			return hosts[n]
		}
		return "?"
	}
	for i, p := range pkts {
		r := Record{
			N: i, Src: name(p.Src), Dst: name(p.Dst), Fate: p.Fate, Size: max(p.Size, len(p.Data)),
			Sent: p.Read.Sub(start), Arrived: -1, Data: p.Data, Time: p.Read, Proto: "IP",
		}
		if p.Fate == link.Delivered {
			r.Arrived = p.Written.Sub(start)
		}
		if err := parser.DecodeLayers(p.Data, &decoded); err != nil && len(decoded) == 0 {
			r.Info = "undecodable: " + err.Error()
			cp.Records = append(cp.Records, r)
			continue
		}
		var src, dst netip.Addr
		for _, lt := range decoded {
			switch lt {
			case layers.LayerTypeIPv4:
				src, _ = netip.AddrFromSlice(ip4.SrcIP.To4())
				dst, _ = netip.AddrFromSlice(ip4.DstIP.To4())
				r.SrcAddr, r.DstAddr = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
			case layers.LayerTypeICMPv4:
				r.Proto = "ICMP"
				r.Info = "ICMP " + icmp.TypeCode.String()
				if t := icmp.TypeCode.Type(); t == layers.ICMPv4TypeEchoRequest || t == layers.ICMPv4TypeEchoReply {
					r.Info += fmt.Sprintf(" seq %d", icmp.Seq)
				}
			case layers.LayerTypeUDP:
				r.Proto = "UDP"
				r.SrcAddr = netip.AddrPortFrom(src, uint16(udp.SrcPort))
				r.DstAddr = netip.AddrPortFrom(dst, uint16(udp.DstPort))
				r.Len = max(int(udp.Length)-8, 0)
				if udp.SrcPort == 53 || udp.DstPort == 53 {
					if err := dns.DecodeFromBytes(udp.Payload, gopacket.NilDecodeFeedback); err == nil {
						r.Info = describeDNS(&dns)
					} else {
						r.Info = "DNS (undecodable)"
					}
				}
			case layers.LayerTypeTCP:
				r.Proto = "TCP"
				r.SrcAddr = netip.AddrPortFrom(src, uint16(tcp.SrcPort))
				r.DstAddr = netip.AddrPortFrom(dst, uint16(tcp.DstPort))
				cp.tcpRecord(&r, &tcp, int(ip4.Length), int(ip4.IHL)*4, conns)
			}
		}
		cp.Records = append(cp.Records, r)
	}
	return cp
}

func (cp *Capture) tcpRecord(r *Record, tcp *layers.TCP, ipLen, ipHdr int, conns map[flowKey]*connState) {
	k := keyOf(r.SrcAddr, r.DstAddr)
	st := conns[k]
	if st != nil && tcp.SYN && !tcp.ACK {
		if h := st.dirs[r.SrcAddr]; h != nil && h.isn != tcp.Seq {
			st = nil // the 4-tuple reused by a new connection
		}
	}
	if st == nil {
		// A new connection, or the same 4-tuple reused by a new SYN.
		c := &Conn{ID: len(cp.Conns) + 1, Client: r.Src, Server: r.Dst, ClientAddr: r.SrcAddr,
			ServerAddr: r.DstAddr, First: r.Sent, key: k}
		cp.Conns = append(cp.Conns, c)
		st = &connState{c: c, dirs: map[netip.AddrPort]*half{}}
		conns[k] = st
	}
	c := st.c
	r.Conn = c.ID
	c.Records = append(c.Records, r.N)
	c.Last = max(c.Last, r.Sent, r.Arrived)
	if r.Dropped() {
		c.Lost++
	}
	me := st.dirs[r.SrcAddr]
	if me == nil {
		me = &half{wscale: -1}
		st.dirs[r.SrcAddr] = me
	}
	peer := st.dirs[r.DstAddr]

	if !me.isnKnown {
		me.isn, me.isnKnown = tcp.Seq, true
		if !tcp.SYN {
			me.isn-- // joined mid-stream: keep payload offsets from 1, as for a SYN
		}
	}
	if tcp.SYN {
		for _, o := range tcp.Options {
			if o.OptionType == layers.TCPOptionKindWindowScale && len(o.OptionData) == 1 {
				me.wscale = int(o.OptionData[0])
			}
		}
	}
	r.Seq = tcp.Seq - me.isn
	if tcp.ACK && peer != nil && peer.isnKnown {
		r.Ack = tcp.Ack - peer.isn
	} else if tcp.ACK {
		r.Ack = tcp.Ack
	}
	r.Win = int(tcp.Window)
	if !tcp.SYN && me.wscale >= 0 && peer != nil && peer.wscale >= 0 {
		r.Win <<= me.wscale
	}
	r.Flags = flags(tcp)
	// From the IP header: the packet may have been recorded cut short.
	r.Len = max(ipLen-ipHdr-int(tcp.DataOffset)*4, len(tcp.Payload))

	// Sequence space this segment occupies, and whether any of it was sent before.
	span := uint32(r.Len)
	if tcp.SYN {
		span++
	}
	if tcp.FIN {
		span++
	}
	if span > 0 {
		end := r.Seq + span
		if me.sent && !seqAfter(end, me.high) {
			r.Retrans = true
			c.Retransmits++
		} else {
			if r.Len > 0 {
				newBytes := int(end - max(r.Seq, me.high))
				if tcp.FIN {
					newBytes--
				}
				if r.SrcAddr == c.ClientAddr {
					c.BytesUp += max(newBytes, 0)
				} else {
					c.BytesDown += max(newBytes, 0)
				}
			}
			me.high = end
			me.sent = true
		}
	}
	if tcp.RST {
		c.Reset = true
	}

	var info []string
	if r.Len > 0 && !r.Retrans {
		info = append(info, describePayload(me, r.Seq, tcp.Payload)...)
	} else if r.Len > 0 && r.Retrans {
		info = append(info, "retransmission")
	}
	if r.Retrans && r.Len == 0 {
		info = append(info, "retransmission")
	}
	r.Info = strings.Join(info, "; ")
}

// seqAfter reports a > b in sequence space.
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

func flags(t *layers.TCP) string {
	var f []string
	if t.SYN {
		f = append(f, "SYN")
	}
	if t.FIN {
		f = append(f, "FIN")
	}
	if t.RST {
		f = append(f, "RST")
	}
	if t.PSH {
		f = append(f, "PSH")
	}
	if t.ACK {
		f = append(f, "ACK")
	}
	return strings.Join(f, ",")
}

var tlsHandshakeTypes = map[byte]string{
	1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 8: "EncryptedExtensions",
	11: "Certificate", 12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
	15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished",
}

// describePayload names what a segment's payload carries. seq is the payload's
// relative sequence number; h follows TLS records along the direction.
func describePayload(h *half, seq uint32, p []byte) []string {
	// TLS: a handshake record at the very start of the direction turns tracking on.
	if !h.tlsOn && !h.tlsLost && seq == 1 && len(p) >= 5 && p[0] == byte(layers.TLSHandshake) && p[1] == 3 {
		h.tlsOn, h.tlsNext = true, 1
	}
	if h.tlsOn && !h.tlsLost {
		var out []string
		counts := map[string]int{}
		var order []string
		add := func(s string) {
			if counts[s] == 0 {
				order = append(order, s)
			}
			counts[s]++
		}
		for seqAfter(seq+uint32(len(p)), h.tlsNext) && !seqAfter(seq, h.tlsNext) {
			off := int(h.tlsNext - seq)
			if off+5 > len(p) {
				h.tlsLost = true // the header continues in the next segment
				break
			}
			typ := layers.TLSType(p[off])
			n := int(p[off+3])<<8 | int(p[off+4])
			name := "TLS " + typ.String()
			if typ == layers.TLSHandshake && off+5 < len(p) {
				if s, ok := tlsHandshakeTypes[p[off+5]]; ok {
					name = "TLS " + s
				}
			}
			if typ.String() == "Unknown" {
				h.tlsLost = true
				break
			}
			add(name)
			h.tlsNext += uint32(5 + n)
		}
		for _, s := range order {
			if counts[s] > 1 {
				s = fmt.Sprintf("%s ×%d", s, counts[s])
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			out = append(out, "TLS (continued)")
		}
		return out
	}
	return httpLines(p)
}

// httpLines returns the HTTP request and status lines found at line starts in p.
func httpLines(p []byte) []string {
	var out []string
	for line := range bytes.Lines(p) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 80 {
			line = line[:80]
		}
		if isStatusLine(line) || isRequestLine(line) {
			out = append(out, string(line))
		}
	}
	return out
}

func isStatusLine(l []byte) bool {
	return len(l) >= 12 && bytes.HasPrefix(l, []byte("HTTP/1.")) && l[8] == ' ' &&
		l[9] >= '1' && l[9] <= '5' && l[10] >= '0' && l[10] <= '9' && l[11] >= '0' && l[11] <= '9'
}

func isRequestLine(l []byte) bool {
	sp := bytes.IndexByte(l, ' ')
	if sp <= 0 || sp > 10 {
		return false
	}
	for _, c := range l[:sp] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return bytes.HasSuffix(l, []byte(" HTTP/1.1")) || bytes.HasSuffix(l, []byte(" HTTP/1.0"))
}

func describeDNS(d *layers.DNS) string {
	q := ""
	if len(d.Questions) > 0 {
		q = d.Questions[0].Type.String() + " " + string(d.Questions[0].Name)
	}
	if !d.QR {
		return "DNS query " + q
	}
	if d.ResponseCode != layers.DNSResponseCodeNoErr {
		return "DNS answer " + q + ": " + d.ResponseCode.String()
	}
	var ans []string
	for _, a := range d.Answers {
		switch a.Type {
		case layers.DNSTypeA, layers.DNSTypeAAAA:
			ans = append(ans, a.IP.String())
		case layers.DNSTypeCNAME:
			ans = append(ans, "CNAME "+string(a.CNAME))
		}
	}
	if len(ans) == 0 {
		return "DNS answer " + q + ": no records"
	}
	s := "DNS answer " + q + " = " + strings.Join(ans, ", ")
	if d.TC {
		s += " (truncated)"
	}
	return s
}

// Conn returns connection id, or nil.
func (cp *Capture) Conn(id int) *Conn {
	if id < 1 || id > len(cp.Conns) {
		return nil
	}
	return cp.Conns[id-1]
}

// Involving returns the records host sent or received, in the order of their time at
// host's end.
func (cp *Capture) Involving(host string) []*Record {
	var out []*Record
	for i := range cp.Records {
		if _, ok := cp.Records[i].At(host); ok {
			out = append(out, &cp.Records[i])
		}
	}
	sortAt(out, host)
	return out
}
