package policy

import "github.com/hop-http/hop/wire"

// Targeted cache-control fields (RFC 9213) are Structured Field dictionaries
// (RFC 8941 §3.2), not the list syntax of Cache-Control. This file holds the small
// dictionary parser they need: it validates the whole field (an invalid field is
// ignored, RFC 9213 §2.1) and reports each member's key, type and value.

// sfType is the type of a dictionary member's value.
type sfType uint8

const (
	sfBool sfType = iota
	sfInteger
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfInnerList
)

// sfMember is one dictionary member: key, value type, the integer or boolean value
// and, for strings and tokens, the raw text (a string without its quotes; escapes are
// left in place).
type sfMember struct {
	key  []byte
	typ  sfType
	num  int64
	b    bool
	text []byte
}

// sfParser walks a dictionary; the lines of a repeated field are one dictionary
// joined by commas (RFC 8941 §3.2).
type sfParser struct {
	b   []byte
	pos int
}

// parseTargeted fills d from the CDN-Cache-Control lines of h. It returns false, and
// d is to be ignored, when the field is not a valid dictionary or a known directive
// has a value of the wrong type. The lines are one dictionary, in which a repeated
// key takes its last value (RFC 8941 §3.2, §4.2.2).
func parseTargeted(h *wire.Header, d *Response) bool {
	ok := true
	lines := 0
	var buf [16]sfMember
	members := buf[:0]
	h.Values(TargetedField, func(v []byte) {
		lines++
		if !ok {
			return
		}
		p := sfParser{b: v}
		ok = p.dictionary(func(m *sfMember) bool { members = append(members, *m); return true })
	})
	if !ok || lines == 0 {
		return false
	}
	for i := range members {
		if overridden(members[i+1:], members[i].key) {
			continue
		}
		if !d.setTargeted(&members[i]) {
			return false
		}
	}
	return true
}

// overridden reports whether a later member has the key.
func overridden(later []sfMember, key []byte) bool {
	for i := range later {
		if string(later[i].key) == string(key) {
			return true
		}
	}
	return false
}

// setTargeted applies one member; false means a known directive had the wrong type.
func (d *Response) setTargeted(m *sfMember) bool {
	key := m.key
	switch string(key) {
	case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error":
		if m.typ != sfInteger || m.num < 0 {
			return false
		}
		var v *int64
		switch string(key) {
		case "max-age":
			v = &d.MaxAge
		case "s-maxage":
			v = &d.SMaxAge
		case "stale-while-revalidate":
			v = &d.StaleWhileRevalidate
		default:
			v = &d.StaleIfError
		}
		*v = min(m.num, MaxDelta)
	case "no-cache", "private":
		switch {
		case m.typ == sfBool && m.b:
			if key[0] == 'n' {
				d.NoCache, d.NoCacheFields = true, nil
			} else {
				d.Private, d.PrivateFields = true, nil
			}
		case m.typ == sfString:
			if key[0] == 'n' {
				d.NoCacheFields = m.text
			} else {
				d.PrivateFields = m.text
			}
		case m.typ == sfBool:
		default:
			return false
		}
	case "no-store", "public", "must-revalidate", "proxy-revalidate", "must-understand", "no-transform", "immutable":
		if m.typ != sfBool {
			return false
		}
		if m.b {
			d.set(key, nil, false, false)
		}
	}
	return true
}

func (p *sfParser) peek() int {
	if p.pos < len(p.b) {
		return int(p.b[p.pos])
	}
	return -1
}

func (p *sfParser) skipSP() {
	for p.pos < len(p.b) && p.b[p.pos] == ' ' {
		p.pos++
	}
}

func (p *sfParser) skipOWS() {
	for p.pos < len(p.b) && (p.b[p.pos] == ' ' || p.b[p.pos] == '\t') {
		p.pos++
	}
}

// dictionary parses sf-dictionary (RFC 8941 §4.2.2) and calls fn per member.
func (p *sfParser) dictionary(fn func(*sfMember) bool) bool {
	p.skipSP()
	if p.pos == len(p.b) {
		return true // an empty line adds nothing
	}
	for {
		var m sfMember
		if !p.key(&m.key) {
			return false
		}
		if p.peek() == '=' {
			p.pos++
			if p.peek() == '(' {
				if !p.innerList() {
					return false
				}
				m.typ = sfInnerList
			} else if !p.bareItem(&m) {
				return false
			}
		} else {
			m.typ, m.b = sfBool, true
		}
		if !p.parameters() {
			return false
		}
		if !fn(&m) {
			return false
		}
		p.skipOWS()
		if p.pos == len(p.b) {
			return true
		}
		if p.b[p.pos] != ',' {
			return false
		}
		p.pos++
		p.skipOWS()
		if p.pos == len(p.b) {
			return false // trailing comma
		}
	}
}

// key parses key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) key(out *[]byte) bool {
	start := p.pos
	c := p.peek()
	if !(c >= 'a' && c <= 'z' || c == '*') {
		return false
	}
	p.pos++
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.pos++
			continue
		}
		break
	}
	*out = p.b[start:p.pos]
	return true
}

// parameters parses *( ";" *SP key [ "=" bare-item ] ).
func (p *sfParser) parameters() bool {
	for p.peek() == ';' {
		p.pos++
		p.skipSP()
		var k []byte
		if !p.key(&k) {
			return false
		}
		if p.peek() == '=' {
			p.pos++
			var m sfMember
			if !p.bareItem(&m) {
				return false
			}
		}
	}
	return true
}

// innerList parses "(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")" parameters.
func (p *sfParser) innerList() bool {
	p.pos++ // (
	for {
		p.skipSP()
		if p.peek() == ')' {
			p.pos++
			return p.parameters()
		}
		var m sfMember
		if !p.bareItem(&m) || !p.parameters() {
			return false
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return false
		}
	}
}

// bareItem parses an integer, decimal, string, token, byte sequence or boolean.
func (p *sfParser) bareItem(m *sfMember) bool {
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		return p.number(m)
	case c == '"':
		m.typ = sfString
		p.pos++
		start := p.pos
		for p.pos < len(p.b) {
			c := p.b[p.pos]
			switch {
			case c == '\\':
				if p.pos+1 >= len(p.b) || p.b[p.pos+1] != '"' && p.b[p.pos+1] != '\\' {
					return false
				}
				p.pos += 2
			case c == '"':
				m.text = p.b[start:p.pos]
				p.pos++
				return true
			case c < 0x20 || c > 0x7e:
				return false
			default:
				p.pos++
			}
		}
		return false
	case c == ':':
		m.typ = sfBytes
		p.pos++
		for p.pos < len(p.b) && p.b[p.pos] != ':' {
			c := p.b[p.pos]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				return false
			}
			p.pos++
		}
		if p.pos == len(p.b) {
			return false
		}
		p.pos++
		return true
	case c == '?':
		m.typ = sfBool
		p.pos++
		switch p.peek() {
		case '0':
			m.b = false
		case '1':
			m.b = true
		default:
			return false
		}
		p.pos++
		return true
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		m.typ = sfToken
		start := p.pos
		p.pos++
		for p.pos < len(p.b) && (wire.IsToken(p.b[p.pos:p.pos+1]) || p.b[p.pos] == ':' || p.b[p.pos] == '/') {
			p.pos++
		}
		m.text = p.b[start:p.pos]
		return true
	}
	return false
}

// number parses sf-integer (up to 15 digits) or sf-decimal (12.3 digits).
func (p *sfParser) number(m *sfMember) bool {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.pos++
	}
	var n int64
	digits, frac, dot := 0, 0, false
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		if c >= '0' && c <= '9' {
			if dot {
				frac++
			} else {
				digits++
				n = n*10 + int64(c-'0')
			}
			p.pos++
			continue
		}
		if c == '.' && !dot && digits > 0 {
			dot = true
			p.pos++
			continue
		}
		break
	}
	switch {
	case digits == 0:
		return false
	case !dot && digits > 15:
		return false
	case dot && (digits > 12 || frac == 0 || frac > 3):
		return false
	}
	if neg {
		n = -n
	}
	m.typ, m.num = sfInteger, n
	if dot {
		m.typ = sfDecimal
	}
	return true
}
