package wire

import "bytes"

// semantics accumulates what the fields say about framing and the connection.
type semantics struct {
	clSeen                      bool
	cl                          int64
	te                          bool
	teLastChunked               bool
	teChunkedCount              int
	teOther                     bool // a coding other than chunked (not supported)
	hostCount                   int
	hostOff, hostLen            int
	connClose, connKA, connUpgr bool
	upgrade                     bool
	expect100, expectOther      bool
	kaTimeout, kaMax            int
}

// fieldLine records one field line that the scan accepted (line, CRLF included, starts
// at offset off of the buffer) in h and notes its meaning.
func (p *Parser) fieldLine(line []byte, off int, h *Header, request bool) error {
	if len(h.fields) >= p.Limits.headerFields() {
		return ErrTooManyFields
	}
	colon := p.line.colon
	vs, ve := fieldValue(line, colon)
	h.fields = append(h.fields, field{uint32(off), uint32(colon), uint32(off + vs), uint32(ve - vs)})
	return p.note(line[:colon], line[vs:ve], off+vs, request)
}

// note records the framing and connection meaning of one field.
func (p *Parser) note(name, value []byte, valOff int, request bool) error {
	s := &p.sem
	switch len(name) {
	case 4:
		if EqualFold(name, "host") {
			s.hostCount++
			s.hostOff, s.hostLen = valOff, len(value)
		}
	case 6:
		if EqualFold(name, "expect") {
			if EqualFold(value, "100-continue") {
				s.expect100 = true
			} else {
				s.expectOther = true
			}
		}
	case 7:
		if EqualFold(name, "upgrade") {
			s.upgrade = true
		}
	case 10:
		if EqualFold(name, "connection") {
			// The common values whole, before the list walk.
			switch {
			case EqualFold(value, "keep-alive"):
				s.connKA = true
				return nil
			case EqualFold(value, "close"):
				s.connClose = true
				return nil
			}
			bad := false
			ForEachToken(value, func(t []byte) bool {
				switch {
				case EqualFold(t, "close"):
					s.connClose = true
				case EqualFold(t, "keep-alive"):
					s.connKA = true
				case EqualFold(t, "upgrade"):
					s.connUpgr = true
				case !IsToken(t):
					bad = true
				}
				return true
			})
			if bad {
				return ErrInvalidFieldValue
			}
		} else if !request && EqualFold(name, "keep-alive") {
			parseKeepAlive(value, s)
		}
	case 14:
		if EqualFold(name, "content-length") {
			n, ok := ParseContentLength(value)
			if !ok {
				return ErrInvalidContentLength
			}
			if s.clSeen && n != s.cl {
				return ErrConflictingLength
			}
			s.clSeen, s.cl = true, n
		}
	case 17:
		if EqualFold(name, "transfer-encoding") {
			s.te = true
			var err error
			ForEachToken(value, func(t []byte) bool {
				if !IsToken(t) {
					err = ErrInvalidTE
					return false
				}
				if EqualFold(t, "chunked") {
					s.teChunkedCount++
					s.teLastChunked = true
					return true
				}
				s.teLastChunked = false
				s.teOther = true
				return true
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseContentLength parses a Content-Length value as the parser does: 1*DIGIT without
// leading zeros ("0" itself is fine), or a list of identical such values ("5, 5"); no
// sign, no spaces inside, no overflow. RFC 9110's grammar allows leading zeros, but
// they are refused: no sender needs them, and a recipient that reads "0200" as octal
// (128) would frame the message differently from one that reads 200.
func ParseContentLength(v []byte) (int64, bool) {
	var first int64 = -1
	if len(v) == 0 {
		return 0, false
	}
	for v != nil {
		var e []byte
		e, v = nextListElem(v)
		n, ok := ParseDigits(e)
		if !ok || n == maxInt64 || len(e) > 1 && e[0] == '0' || first >= 0 && n != first {
			return 0, false
		}
		first = n
	}
	return first, true
}

// ParseDigits parses 1*DIGIT (RFC 5234) into a non-negative int64. A number too large
// for an int64 is still well-formed: it saturates to math.MaxInt64, and callers that
// cannot take it refuse that value (a Content-Length of 2⁶³-1 bytes is refused too).
func ParseDigits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxInt64-d)/10 {
			n = maxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

const maxInt64 = 1<<63 - 1

// parseKeepAlive reads timeout=N and max=M from a Keep-Alive field.
func parseKeepAlive(v []byte, s *semantics) {
	ForEachToken(v, func(t []byte) bool {
		eq := bytes.IndexByte(t, '=')
		if eq < 0 {
			return true
		}
		k, val := TrimOWS(t[:eq]), TrimOWS(t[eq+1:])
		n, ok := ParseDigits(val)
		if !ok || n > 1<<31-1 {
			return true
		}
		switch {
		case EqualFold(k, "timeout"):
			s.kaTimeout = int(n)
		case EqualFold(k, "max"):
			s.kaMax = int(n)
		}
		return true
	})
}
