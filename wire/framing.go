package wire

func (p *Parser) finishRequest(buf []byte, r *Request) error {
	s := &p.sem
	r.Header.setArena(buf)
	r.Method = buf[p.s1Off : p.s1Off+p.s1Len : p.s1Off+p.s1Len]
	r.Target = buf[p.s2Off : p.s2Off+p.s2Len : p.s2Off+p.s2Len]
	r.Major, r.Minor = p.major, p.minor
	r.Host = nil
	if s.hostCount > 1 {
		return ErrRepeatedHost
	}
	if s.hostCount == 1 {
		r.Host = buf[s.hostOff : s.hostOff+s.hostLen : s.hostOff+s.hostLen]
		if !validHost(r.Host) {
			return ErrInvalidHost
		}
	} else if p.minor >= 1 && !p.hostOptional {
		return ErrMissingHost
	}
	r.ContentLength = 0
	r.Framing = FramingNone
	switch {
	case s.te:
		if p.minor == 0 {
			return ErrTEInHTTP10
		}
		if s.clSeen {
			return ErrTEAndCL
		}
		if !s.teLastChunked {
			return ErrTENotChunked
		}
		if s.teChunkedCount > 1 {
			return ErrInvalidTE
		}
		if s.teOther {
			return ErrUnknownTE
		}
		r.Framing = FramingChunked
	case s.clSeen && s.cl > 0:
		r.Framing = FramingLength
		r.ContentLength = s.cl
	}
	if p.minor >= 1 {
		r.KeepAlive = !s.connClose
		r.Expect100 = s.expect100
		if s.expectOther {
			return ErrExpectation
		}
	} else {
		r.KeepAlive = s.connKA && !s.connClose
		r.Expect100 = false
	}
	// Upgrade is an HTTP/1.1 mechanism: a server MUST ignore it in an HTTP/1.0 request
	// (RFC 9110 §7.8).
	r.Upgrade = s.upgrade && s.connUpgr && p.minor >= 1
	return nil
}

func (p *Parser) finishResponse(buf []byte, r *Response, method []byte) error {
	s := &p.sem
	r.Header.setArena(buf)
	r.Major, r.Minor, r.Status = p.major, p.minor, p.status
	r.Reason = buf[p.s1Off : p.s1Off+p.s1Len : p.s1Off+p.s1Len]
	r.KeepAliveTimeout, r.KeepAliveMax = s.kaTimeout, s.kaMax
	r.ContentLength = 0
	r.DeclaredLength = -1
	if s.clSeen {
		r.DeclaredLength = s.cl
	}
	if p.minor >= 1 {
		r.KeepAlive = !s.connClose
	} else {
		r.KeepAlive = s.connKA && !s.connClose
	}
	switch {
	case r.Status < 200 || r.Status == 204 || r.Status == 304 || string(method) == "HEAD" ||
		string(method) == "CONNECT" && r.Status < 300:
		r.Framing = FramingNone
		if s.te && s.clSeen {
			return ErrTEAndCL
		}
		return nil
	case s.te:
		if s.clSeen {
			return ErrTEAndCL
		}
		if s.teOther {
			return ErrUnknownTE
		}
		if s.teChunkedCount != 1 {
			return ErrInvalidTE
		}
		r.Framing = FramingChunked
	case s.clSeen:
		r.Framing = FramingLength
		r.ContentLength = s.cl
		if s.cl == 0 {
			r.Framing = FramingNone
		}
	default:
		r.Framing = FramingClose
		r.KeepAlive = false
	}
	return nil
}
