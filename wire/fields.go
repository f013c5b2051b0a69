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

// fieldLine parses one field line (without CRLF), records it in h and notes its meaning.
func (p *Parser) fieldLine(line []byte, off int, h *Header, request bool) error {
	i, j, k, err := splitField(line)
	if err != nil {
		return err
	}
	if len(h.fields) >= p.Limits.headerFields() {
		return ErrTooManyFields
	}
	h.fields = append(h.fields, field{uint32(off), uint32(i), uint32(off + j), uint32(k - j)})
	return p.note(line[:i], line[j:k], off+j, request)
}

// splitField validates a field line (without CRLF): the name is line[:colon], the
// value with surrounding OWS removed is line[vStart:vEnd].
func splitField(line []byte) (colon, vStart, vEnd int, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return 0, 0, 0, ErrObsFold
	}
	i := 0
	for i < len(line) && tokenChar[line[i]] {
		i++
	}
	if i == len(line) {
		return 0, 0, 0, ErrMissingColon
	}
	if line[i] != ':' {
		if i > 0 && (line[i] == ' ' || line[i] == '\t') {
			return 0, 0, 0, ErrSpaceBeforeColon
		}
		return 0, 0, 0, ErrInvalidFieldName
	}
	if i == 0 {
		return 0, 0, 0, ErrInvalidFieldName
	}
	j := i + 1
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	k := len(line)
	if !validValueBytes(line[j:]) {
		return 0, 0, 0, ErrInvalidFieldValue
	}
	for k > j && (line[k-1] == ' ' || line[k-1] == '\t') {
		k--
	}
	return i, j, k, nil
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

// ParseContentLength parses a Content-Length value as the parser does: 1*DIGIT, or a
// list of identical such values ("5, 5"); no sign, no spaces inside, no overflow.
func ParseContentLength(v []byte) (int64, bool) {
	var first int64 = -1
	if len(v) == 0 {
		return 0, false
	}
	for v != nil {
		var e []byte
		e, v = nextListElem(v)
		n, ok := parseDigits(e)
		if !ok || first >= 0 && n != first {
			return 0, false
		}
		first = n
	}
	return first, true
}

// parseDigits parses 1*DIGIT into a non-negative int64, rejecting overflow.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseKeepAlive reads timeout=N and max=M from a Keep-Alive field.
func parseKeepAlive(v []byte, s *semantics) {
	ForEachToken(v, func(t []byte) bool {
		eq := bytes.IndexByte(t, '=')
		if eq < 0 {
			return true
		}
		k, val := trimOWS(t[:eq]), trimOWS(t[eq+1:])
		n, ok := parseDigits(val)
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
