package wire

// finishRequest fills r from a complete request head and applies the rules that need
// the whole head: Host, framing (RFC 9112 §6) and the connection.
func (p *Parser) finishRequest(buf []byte, r *Request) error {
	s := &p.sem
	r.Header.setArena(buf)
	r.Method = buf[p.s1Off : p.s1Off+p.s1Len : p.s1Off+p.s1Len]
	r.Target = buf[p.s2Off : p.s2Off+p.s2Len : p.s2Off+p.s2Len]
	r.Form = p.target.Form
	r.Major, r.Minor = p.major, p.minor
	r.Host = nil
	if s.hostCount > 1 {
		return ErrRepeatedHost
	}
	if s.hostCount == 1 {
		r.Host = buf[s.hostOff : s.hostOff+s.hostLen : s.hostOff+s.hostLen]
		if !validHostField(r.Host) {
			return ErrInvalidHost
		}
		// The target URI's authority comes from Host for origin-form and asterisk-form
		// targets, and an http URI must not have an empty host (RFC 9110 §4.2.1). An
		// absolute-form or authority-form target carries its own authority, and Host is
		// then ignored (RFC 9112 §3.2.2), so it may be empty there.
		if len(r.Host) == 0 && (r.Form == FormOrigin || r.Form == FormAsterisk) {
			return ErrInvalidHost
		}
	} else if p.minor >= 1 && !p.hostOptional {
		return ErrMissingHost
	}
	r.ContentLength = 0
	r.Framing = FramingNone
	switch {
	case r.Form == FormAuthority && (s.te || s.clSeen && s.cl != 0):
		// A CONNECT request has no content (RFC 9110 §9.3.6): what follows its head is
		// tunnel data, and a declared body would make one party read it as a body and
		// another as the tunnel. "Content-Length: 0" declares nothing and passes.
		return ErrConnectContent
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

// finishResponse fills r from a complete response head; method is the request's,
// which changes the framing for HEAD and CONNECT (RFC 9112 §6.3).
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
		if p.minor == 0 {
			// Transfer-Encoding in an HTTP/1.0 message: the framing is faulty, and the
			// connection must be closed after the message (RFC 9112 §6.1).
			r.KeepAlive = false
		}
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
