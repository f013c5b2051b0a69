package wire

import "bytes"

// requestLine parses method SP request-target SP HTTP-version.
func (p *Parser) requestLine(line []byte, off int) error {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		if IsToken(line) {
			return ErrInvalidRequestLine
		}
		return ErrInvalidMethod
	}
	method := line[:sp]
	if !IsToken(method) {
		return ErrInvalidMethod
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		if len(rest) > 0 && validTargetChars(rest) {
			return ErrHTTP09
		}
		return ErrInvalidTarget
	}
	target := rest[:sp2]
	if len(target) == 0 || !validTargetChars(target) {
		return ErrInvalidTarget
	}
	major, minor, err := parseVersion(rest[sp2+1:])
	if err != nil {
		return err
	}
	if err := checkTargetForm(method, target); err != nil {
		return err
	}
	p.s1Off, p.s1Len = off, sp
	p.s2Off, p.s2Len = off+sp+1, sp2
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

func validTargetChars(t []byte) bool {
	for _, c := range t {
		if !targetChar[c] {
			return false
		}
	}
	return true
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
