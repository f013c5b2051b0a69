// Package dnszone is a small authoritative DNS server for a fixed zone of A and AAAA
// records, over UDP and TCP (RFC 1035, RFC 7766), built on
// golang.org/x/net/dns/dnsmessage. It is the DNS host of hop lab: hop's resolver
// queries it across the lab's link, so that the lookup's packets are on the
// timeline. Names outside the zone get NXDOMAIN; names in the zone without records of
// the asked type get an empty answer (NODATA); both carry an SOA record so that
// resolvers can cache the negative answer (RFC 2308).
package dnszone

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers queries for Zone. Fields must not change once Serve runs.
type Server struct {
	// Zone maps fully qualified names ("www.lab.test.", any case) to their addresses.
	Zone map[string][]netip.Addr
	// TTL of the answers; 0 means 60 seconds.
	TTL uint32

	queries atomic.Int64
	wg      sync.WaitGroup
}

// Queries returns how many queries the server has answered.
func (s *Server) Queries() int64 { return s.queries.Load() }

// ServeUDP answers the queries arriving on pc until pc is closed.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	buf := make([]byte, 1232)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if resp, ok := s.answer(buf[:n], 512); ok {
			pc.WriteTo(resp, from)
		}
	}
}

// ServeTCP answers queries on the connections accepted from ln until ln is closed.
// Each connection may carry several queries; it is closed after 10 s without one.
func (s *Server) ServeTCP(ln net.Listener) error {
	defer s.wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			var lb [2]byte
			msg := make([]byte, 0, 512)
			for {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, lb[:]); err != nil {
					return
				}
				// The 2-byte prefix bounds a message to 65535 bytes.
				n := int(binary.BigEndian.Uint16(lb[:]))
				if n > cap(msg) {
					msg = make([]byte, 0, n)
				}
				msg = msg[:n]
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				resp, ok := s.answer(msg, 65535)
				if !ok {
					return
				}
				out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(resp)), uint16(len(resp)))
				if _, err := c.Write(append(out, resp...)); err != nil {
					return
				}
			}
		}()
	}
}

// answer builds the response to query, at most limit bytes (truncated otherwise).
func (s *Server) answer(query []byte, limit int) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	s.queries.Add(1)
	ttl := s.TTL
	if ttl == 0 {
		ttl = 60
	}
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired},
		Questions: []dnsmessage.Question{q},
	}
	addrs, found := s.lookup(q.Name.String())
	if !found {
		resp.RCode = dnsmessage.RCodeNameError
	}
	for _, a := range addrs {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: ttl}
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			rh.Type = dnsmessage.TypeA
			resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AResource{A: a.As4()}})
		case q.Type == dnsmessage.TypeAAAA && a.Is6() && !a.Is4In6():
			rh.Type = dnsmessage.TypeAAAA
			resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
		}
	}
	if len(resp.Answers) == 0 {
		resp.Authorities = []dnsmessage.Resource{s.soa(q.Name, ttl)}
	}
	b, err := resp.Pack()
	if err != nil {
		return nil, false
	}
	if len(b) > limit {
		resp.Answers, resp.Authorities, resp.Truncated = nil, nil, true
		if b, err = resp.Pack(); err != nil {
			return nil, false
		}
	}
	return b, true
}

func (s *Server) lookup(name string) ([]netip.Addr, bool) {
	name = strings.ToLower(name)
	for k, v := range s.Zone {
		if strings.ToLower(k) == name {
			return v, true
		}
	}
	return nil, false
}

// soa is the zone's SOA record, placed at the parent of name.
func (s *Server) soa(name dnsmessage.Name, ttl uint32) dnsmessage.Resource {
	zone := name.String()
	if _, parent, ok := strings.Cut(zone, "."); ok && parent != "" {
		zone = parent
	}
	zn, err := dnsmessage.NewName(zone)
	if err != nil {
		zn = name
	}
	ns, _ := dnsmessage.NewName("ns." + zone)
	mbox, _ := dnsmessage.NewName("hostmaster." + zone)
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: zn, Type: dnsmessage.TypeSOA, Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   &dnsmessage.SOAResource{NS: ns, MBox: mbox, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, MinTTL: ttl},
	}
}
