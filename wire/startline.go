package wire

// requestLine finishes a request line that the scan accepted (line, CRLF included,
// starts at offset off of the buffer): the HTTP version (505 for a major version other
// than 1), then the request-target's form and path (see ParseTarget).
func (p *Parser) requestLine(line []byte, off int) error {
	s := &p.line
	major, minor, err := parseVersion(line[s.version : len(line)-2])
	if err != nil {
		return err
	}
	method, target := line[:s.target-1], line[s.target:s.version-1]
	p.target = Target{}
	if err := parseTarget(method, target, &p.target); err != nil { // the scan checked its characters
		return err
	}
	p.s1Off, p.s1Len = off, len(method)
	p.s2Off, p.s2Len = off+s.target, len(target)
	p.major, p.minor = major, minor
	return nil
}

// statusLine parses HTTP-version SP status-code SP [reason-phrase]. A missing SP after
// the status code is tolerated (some servers omit it together with the reason).
func (p *Parser) statusLine(line []byte, off int) error {
	if len(line) < 5 || string(line[:5]) != "HTTP/" {
		return ErrInvalidStatusLine
	}
	if len(line) < 12 || line[8] != ' ' {
		if len(line) >= 8 {
			if _, _, err := parseVersion(line[:8]); err != nil {
				return err
			}
		}
		return ErrInvalidStatusLine
	}
	major, minor, err := parseVersion(line[:8])
	if err != nil {
		return err
	}
	c0, c1, c2 := line[9], line[10], line[11]
	if c0 < '1' || c0 > '9' || c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' {
		return ErrInvalidStatusLine
	}
	status := int(c0-'0')*100 + int(c1-'0')*10 + int(c2-'0')
	reasonOff := 12
	if len(line) > 12 {
		if line[12] != ' ' {
			return ErrInvalidStatusLine
		}
		reasonOff = 13
		for _, c := range line[13:] {
			if !valueChar[c] {
				return ErrInvalidStatusLine
			}
		}
	}
	p.major, p.minor, p.status = major, minor, status
	p.s1Off, p.s1Len = off+reasonOff, len(line)-reasonOff
	return nil
}

// parseVersion parses "HTTP/d.d". Major versions other than 1 are not supported (505);
// minor versions above 1 are treated as 1.
func parseVersion(v []byte) (major, minor uint8, err error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, ErrInvalidVersion
	}
	major, minor = v[5]-'0', v[7]-'0'
	if major != 1 {
		return 0, 0, ErrVersionNotSupported
	}
	if minor > 1 {
		minor = 1
	}
	return major, minor, nil
}

// IsHeadRequest reports whether buf, the start of a request as received (one empty
// line before it tolerated, as ParseRequest does), is a HEAD request: it begins with
// HEAD and a space. A server that fails a request before or while its head is parsed
// asks it so that its error response to a HEAD carries no content (RFC 9110 §9.3.2).
func IsHeadRequest(buf []byte) bool {
	if len(buf) >= 2 && buf[0] == '\r' && buf[1] == '\n' {
		buf = buf[2:]
	}
	return len(buf) >= 5 && string(buf[:5]) == "HEAD "
}
