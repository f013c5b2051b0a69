package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const (
	// ednsSize is the UDP payload size advertised with EDNS(0), the value
	// recommended by DNS Flag Day 2020 to avoid fragmentation.
	ednsSize = 1232
	// udpBufSize is the receive buffer: larger than advertised, for servers
	// that ignore it (a datagram that does not fit would be cut and dropped).
	udpBufSize = 4096
	// maxCNAMEs bounds the CNAME chain followed in an answer.
	maxCNAMEs = 16
)

var (
	errMismatch  = errors.New("answer does not match the query")
	errLame      = errors.New("lame referral: server does not recurse")
	errMalformed = errors.New("malformed answer")
)

// query asks the configured servers for qtype records of fqdn, trying each
// server in turn, conf.attempts times, each try bounded by conf.timeout. It
// returns the first definitive answer (addresses, NXDOMAIN or NODATA), or the
// last error.
func (r *Resolver) query(ctx context.Context, st *state, conf *config, fqdn string, qtype dnsmessage.Type) answer {
	id := uint16(rand.Uint32())
	q, msg, err := newQuery(id, fqdn, qtype)
	if err != nil {
		return answer{err: err}
	}
	servers := conf.servers
	off := 0
	if conf.rotate && len(servers) > 1 {
		off = int(st.rotate.Add(1) % uint32(len(servers)))
	}
	last := answer{err: errors.New("no name servers")}
	for range conf.attempts {
		for j := range servers {
			server := servers[(off+j)%len(servers)]
			if err := ctx.Err(); err != nil {
				return answer{err: err, server: last.server}
			}
			tctx, cancel := context.WithTimeout(ctx, conf.timeout)
			p, h, tcp, err := r.exchange(tctx, server, id, q, msg)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				last = answer{err: err, server: server}
				continue
			}
			a := parseAnswer(&p, h, q)
			a.server, a.tcp = server, tcp
			if a.err == nil {
				return a
			}
			last = a
		}
	}
	return last
}

// newQuery builds a query message with a two-byte length prefix (for TCP;
// UDP sends msg[2:]) and an EDNS(0) OPT record.
func newQuery(id uint16, fqdn string, qtype dnsmessage.Type) (dnsmessage.Question, []byte, error) {
	n, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return dnsmessage.Question{}, nil, err
	}
	q := dnsmessage.Question{Name: n, Type: qtype, Class: dnsmessage.ClassINET}
	b := dnsmessage.NewBuilder(make([]byte, 2, 514), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return q, nil, err
	}
	if err := b.Question(q); err != nil {
		return q, nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return q, nil, err
	}
	var rh dnsmessage.ResourceHeader
	if err := rh.SetEDNS0(ednsSize, dnsmessage.RCodeSuccess, false); err != nil {
		return q, nil, err
	}
	if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
		return q, nil, err
	}
	msg, err := b.Finish()
	if err != nil {
		return q, nil, err
	}
	l := len(msg) - 2
	msg[0], msg[1] = byte(l>>8), byte(l)
	return q, msg, nil
}

// exchange sends the query to server over UDP, and again over TCP if the
// answer is truncated. The returned parser is positioned after the header.
func (r *Resolver) exchange(ctx context.Context, server string, id uint16, q dnsmessage.Question, msg []byte) (dnsmessage.Parser, dnsmessage.Header, bool, error) {
	p, h, err := r.roundTrip(ctx, "udp", server, id, q, msg)
	if err != nil || !h.Truncated {
		return p, h, false, err
	}
	p, h, err = r.roundTrip(ctx, "tcp", server, id, q, msg)
	return p, h, true, err
}

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

func (r *Resolver) roundTrip(ctx context.Context, network, server string, id uint16, q dnsmessage.Question, msg []byte) (dnsmessage.Parser, dnsmessage.Header, error) {
	var conn net.Conn
	var err error
	if r.Dial != nil {
		conn, err = r.Dial(ctx, network, server)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, network, server)
	}
	if err != nil {
		return dnsmessage.Parser{}, dnsmessage.Header{}, err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	defer stop()

	var p dnsmessage.Parser
	var h dnsmessage.Header
	if network == "udp" {
		p, h, err = udpRoundTrip(conn, id, q, msg[2:])
	} else {
		p, h, err = tcpRoundTrip(conn, id, q, msg)
	}
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return p, h, err
}

// udpRoundTrip sends msg and reads datagrams until one answers it, ignoring
// those with another ID or question (late answers to earlier queries, or
// spoofing attempts).
func udpRoundTrip(conn net.Conn, id uint16, q dnsmessage.Question, msg []byte) (dnsmessage.Parser, dnsmessage.Header, error) {
	if _, err := conn.Write(msg); err != nil {
		return dnsmessage.Parser{}, dnsmessage.Header{}, err
	}
	buf := make([]byte, udpBufSize)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return dnsmessage.Parser{}, dnsmessage.Header{}, err
		}
		if p, h, err := checkResponse(buf[:n], id, q); err == nil {
			return p, h, nil
		}
	}
}

// tcpRoundTrip sends the length-prefixed msg and reads one answer, which must
// match the query.
func tcpRoundTrip(conn net.Conn, id uint16, q dnsmessage.Question, msg []byte) (dnsmessage.Parser, dnsmessage.Header, error) {
	if _, err := conn.Write(msg); err != nil {
		return dnsmessage.Parser{}, dnsmessage.Header{}, err
	}
	var lb [2]byte
	if _, err := io.ReadFull(conn, lb[:]); err != nil {
		return dnsmessage.Parser{}, dnsmessage.Header{}, err
	}
	buf := make([]byte, int(lb[0])<<8|int(lb[1]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return dnsmessage.Parser{}, dnsmessage.Header{}, err
	}
	return checkResponse(buf, id, q)
}

// checkResponse parses the header and question of an answer and checks that
// it answers the query id/q. The parser is left positioned at the answers.
func checkResponse(b []byte, id uint16, q dnsmessage.Question) (dnsmessage.Parser, dnsmessage.Header, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return p, h, errMalformed
	}
	if !h.Response || h.ID != id {
		return p, h, errMismatch
	}
	q2, err := p.Question()
	if err != nil {
		return p, h, errMismatch
	}
	if q2.Type != q.Type || q2.Class != q.Class || !strings.EqualFold(q2.Name.String(), q.Name.String()) {
		return p, h, errMismatch
	}
	if err := p.SkipAllQuestions(); err != nil {
		return p, h, errMalformed
	}
	return p, h, nil
}

// parseAnswer interprets an answer to q. A nil err means a definitive
// answer: addresses, or notFound (NXDOMAIN, or NODATA) with the negative TTL
// from the SOA record (RFC 2308), or none if there is no SOA. Server failures
// and lame referrals give an err, to try the next server.
func parseAnswer(p *dnsmessage.Parser, h dnsmessage.Header, q dnsmessage.Question) answer {
	switch h.RCode {
	case dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError:
	default:
		return answer{err: fmt.Errorf("server answered %s", rcodeName(h.RCode))}
	}

	type rr struct {
		addr netip.Addr
		ttl  uint32
	}
	type cname struct {
		target string
		ttl    uint32
	}
	addrs := map[string][]rr{}
	cnames := map[string]cname{}
	for {
		ah, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return answer{err: errMalformed}
		}
		name := strings.ToLower(ah.Name.String())
		switch {
		case ah.Class != dnsmessage.ClassINET:
			err = p.SkipAnswer()
		case ah.Type == q.Type && q.Type == dnsmessage.TypeA:
			var a dnsmessage.AResource
			if a, err = p.AResource(); err == nil {
				addrs[name] = append(addrs[name], rr{netip.AddrFrom4(a.A), ah.TTL})
			}
		case ah.Type == q.Type && q.Type == dnsmessage.TypeAAAA:
			var a dnsmessage.AAAAResource
			if a, err = p.AAAAResource(); err == nil {
				addrs[name] = append(addrs[name], rr{netip.AddrFrom16(a.AAAA), ah.TTL})
			}
		case ah.Type == dnsmessage.TypeCNAME:
			var c dnsmessage.CNAMEResource
			if c, err = p.CNAMEResource(); err == nil {
				cnames[name] = cname{strings.ToLower(c.CNAME.String()), ah.TTL}
			}
		default:
			err = p.SkipAnswer()
		}
		if err != nil {
			return answer{err: errMalformed}
		}
	}

	// Follow the CNAME chain from the question name.
	name := strings.ToLower(q.Name.String())
	ttl := uint32(1<<32 - 1)
	var out []netip.Addr
	for range maxCNAMEs + 1 {
		if rrs := addrs[name]; len(rrs) > 0 {
			for _, rr := range rrs {
				out = append(out, rr.addr)
				ttl = min(ttl, rr.ttl)
			}
			break
		}
		c, ok := cnames[name]
		if !ok {
			break
		}
		ttl = min(ttl, c.ttl)
		name = c.target
	}
	if h.RCode == dnsmessage.RCodeSuccess && len(out) > 0 {
		return answer{addrs: out, ttl: min(time.Duration(ttl)*time.Second, maxTTL)}
	}

	// Negative answer: find the SOA for its TTL.
	var negTTL time.Duration
	hasSOA := false
	if err := p.SkipAllAnswers(); err == nil {
		for {
			ah, err := p.AuthorityHeader()
			if err != nil { // ErrSectionDone, or malformed: no SOA then
				break
			}
			if ah.Type != dnsmessage.TypeSOA {
				if p.SkipAuthority() != nil {
					break
				}
				continue
			}
			soa, err := p.SOAResource()
			if err != nil {
				break
			}
			hasSOA = true
			negTTL = min(time.Duration(min(ah.TTL, soa.MinTTL))*time.Second, maxNegativeTTL)
			break
		}
	}
	if h.RCode == dnsmessage.RCodeSuccess && !hasSOA && !h.Authoritative && !h.RecursionAvailable {
		// A server that neither recurses nor is authoritative sent a
		// referral: it cannot answer, try the next one.
		return answer{err: errLame}
	}
	return answer{notFound: true, ttl: negTTL}
}

func rcodeName(rc dnsmessage.RCode) string {
	switch rc {
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return fmt.Sprintf("rcode %d", rc)
}
