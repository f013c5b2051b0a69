package wire

import "bytes"

const (
	stateStart uint8 = iota
	stateFields
)

// Parser is an incremental parser for request and response heads. It is fed the bytes
// buffered so far, starting at the first byte of the message. When the head is
// incomplete it returns [ErrNeedMore] and remembers where it stopped; the next call
// must pass the same bytes (possibly moved to a larger buffer) followed by whatever
// arrived since, and the same *Request or *Response. Each line is validated once,
// when its LF arrives, and the search for LF resumes where the last one stopped, so the
// total work is linear however the input is split.
//
// After a complete head or an error the Parser is ready for the next message. The zero
// value uses default [Limits].
type Parser struct {
	Limits Limits

	state       uint8
	skippedCRLF bool
	pos         int // start of the next unparsed line
	scan        int // where the LF search resumes
	start       int // offset of the start line
	fieldsStart int // offset of the first field line

	// start-line spans
	s1Off, s1Len, s2Off, s2Len int
	major, minor               uint8
	status                     int
	sem                        semantics

	// hostOptional lets an HTTP/1.1 request without Host through. It is a test hook
	// (the conformance corpus is mostly Host-less); nothing outside tests sets it.
	hostOptional bool
}

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

// Reset abandons any partial message.
func (p *Parser) Reset() {
	p.state = stateStart
	p.skippedCRLF = false
	p.pos, p.scan, p.start, p.fieldsStart = 0, 0, 0, 0
	p.sem = semantics{}
}

// ParseRequest parses a request head from buf. It returns the head length when the head
// is complete, or 0 and ErrNeedMore, or 0 and an *Error. One empty line before the
// request line is tolerated (and counted in the head length). A line whose first bytes
// are already invalid, or which already exceeds a limit, fails before its LF arrives.
func (p *Parser) ParseRequest(buf []byte, r *Request) (int, error) {
	end, err := p.head(buf, &r.Header, true)
	if err == nil {
		err = p.finishRequest(buf[:end], r)
	}
	return p.done(end, err, &r.HeadLen)
}

// ParseResponse parses a response head from buf; method is the method of the request it
// answers (HEAD and CONNECT change the framing). Results as for ParseRequest; one empty
// line before the status line is tolerated too (a stray CRLF after a previous body).
func (p *Parser) ParseResponse(buf []byte, r *Response, method []byte) (int, error) {
	end, err := p.head(buf, &r.Header, false)
	if err == nil {
		err = p.finishResponse(buf[:end], r, method)
	}
	return p.done(end, err, &r.HeadLen)
}

// head runs the line parser for either role and keeps h consistent: the fields parsed
// so far stay readable while the head is incomplete, and h is empty after an error.
func (p *Parser) head(buf []byte, h *Header, request bool) (int, error) {
	if p.scan > len(buf) {
		p.Reset() // the caller passed less than last time: start over rather than panic
	}
	if p.state == stateStart && p.pos == 0 {
		h.fields = h.fields[:0]
		h.arena, h.borrowed = nil, false
	}
	end, err := p.parse(buf, h, request)
	switch {
	case err == ErrNeedMore:
		h.setArena(buf)
	case err != nil:
		h.fields = h.fields[:0]
	}
	return end, err
}

// done ends a parse call: on completion or error the parser is ready for the next
// message.
func (p *Parser) done(end int, err error, headLen *int) (int, error) {
	if err == ErrNeedMore {
		return 0, err
	}
	p.Reset()
	if err != nil {
		return 0, err
	}
	*headLen = end
	return end, nil
}

func (p *Parser) parse(buf []byte, h *Header, request bool) (int, error) {
	for {
		i := bytes.IndexByte(buf[p.scan:], '\n')
		if i < 0 {
			p.scan = len(buf)
			return 0, p.checkIncomplete(buf, request)
		}
		end := p.scan + i + 1
		line := buf[p.pos:end]
		// The checks run in the same order as in checkIncomplete, so that a head split
		// anywhere fails with the same error as the head in one piece.
		if err := p.checkLineStart(line, request); err != nil {
			return 0, err
		}
		switch p.state {
		case stateStart:
			if end-p.start > p.Limits.requestLine() {
				return 0, p.startLineTooLong(request)
			}
		case stateFields:
			if end-p.fieldsStart > p.Limits.headerBytes() {
				return 0, ErrHeaderTooLarge
			}
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return 0, ErrBareLF
		}
		content := line[:len(line)-2]
		switch p.state {
		case stateStart:
			if len(content) == 0 && p.mayskipCRLF() {
				p.skippedCRLF = true
				p.pos, p.scan, p.start = end, end, end
				continue
			}
			var err error
			if request {
				err = p.requestLine(content, p.pos)
			} else {
				err = p.statusLine(content, p.pos)
			}
			if err != nil {
				return 0, err
			}
			p.state = stateFields
			p.fieldsStart = end
		case stateFields:
			if len(content) == 0 {
				return end, nil
			}
			if err := p.fieldLine(content, p.pos, h, request); err != nil {
				return 0, err
			}
		}
		p.pos, p.scan = end, end
	}
}

// mayskipCRLF reports whether an empty line here is the one tolerated before the start
// line (RFC 9112 §2.2; applied to status lines too).
func (p *Parser) mayskipCRLF() bool { return !p.skippedCRLF && p.pos == 0 }

func (p *Parser) startLineTooLong(request bool) error {
	if request {
		return ErrRequestLineTooLong
	}
	return ErrStatusLineTooLong
}

// checkLineStart rejects a line (complete, or the part received so far) whose first
// bytes already make it invalid, so that garbage is refused without waiting for an LF
// that may never come. It looks at no more than five bytes, so calling it on every
// partial read keeps the total work linear. Every error it returns is the one the
// complete-line checks would return for any continuation of these bytes.
func (p *Parser) checkLineStart(b []byte, request bool) error {
	if len(b) == 0 || b[0] == '\n' {
		return nil // empty so far, or a bare LF: judged with the whole line
	}
	switch p.state {
	case stateStart:
		bad := ErrInvalidStatusLine
		if request {
			bad = ErrInvalidMethod
		}
		if b[0] == '\r' {
			if !p.mayskipCRLF() || len(b) >= 2 && b[1] != '\n' {
				return bad
			}
			return nil
		}
		if request {
			if !tokenChar[b[0]] {
				return ErrInvalidMethod
			}
			return nil
		}
		const proto = "HTTP/"
		for i := 0; i < len(b) && i < len(proto); i++ {
			if b[i] != proto[i] {
				return ErrInvalidStatusLine
			}
		}
	case stateFields:
		switch c := b[0]; {
		case c == ' ' || c == '\t':
			return ErrObsFold
		case c == '\r':
			if len(b) >= 2 && b[1] != '\n' {
				return ErrInvalidFieldName
			}
		case !tokenChar[c]:
			return ErrInvalidFieldName
		}
	}
	return nil
}

// lineStartKnown reports whether checkLineStart, having accepted the partial line b,
// accepts every continuation of it too.
func (p *Parser) lineStartKnown(b []byte, request bool) bool {
	switch {
	case len(b) == 0:
		return false
	case b[0] == '\r':
		return len(b) >= 2
	case p.state == stateStart && !request:
		return len(b) >= len("HTTP/")
	}
	return true
}

// checkIncomplete decides what an incomplete line means: an error when its first bytes
// are already invalid or when it already exceeds a limit (before its LF arrives),
// ErrNeedMore otherwise.
func (p *Parser) checkIncomplete(buf []byte, request bool) error {
	partial := buf[p.pos:]
	if err := p.checkLineStart(partial, request); err != nil {
		return err
	}
	if !p.lineStartKnown(partial, request) {
		// The next bytes may still make checkLineStart fail, and that error comes
		// first for the complete line: wait for them (at most five bytes).
		return ErrNeedMore
	}
	// No LF yet: the line will be at least one byte longer than what is here.
	n := len(buf)
	switch p.state {
	case stateStart:
		if n-p.start >= p.Limits.requestLine() {
			return p.startLineTooLong(request)
		}
	case stateFields:
		if n-p.fieldsStart >= p.Limits.headerBytes() {
			return ErrHeaderTooLarge
		}
	}
	return ErrNeedMore
}

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

// checkTargetForm applies RFC 9112 §3.2: origin-form, absolute-form, authority-form for
// CONNECT only, asterisk-form for OPTIONS only.
func checkTargetForm(method, target []byte) error {
	switch {
	case string(method) == "CONNECT":
		if !validAuthority(target) {
			return ErrInvalidTarget
		}
		return nil
	case target[0] == '/':
		return nil
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return ErrInvalidTarget
		}
		return nil
	}
	// absolute-form: scheme ":" hier-part
	colon := bytes.IndexByte(target, ':')
	if colon <= 0 {
		return ErrInvalidTarget
	}
	for i, c := range target[:colon] {
		alpha := (c|0x20) >= 'a' && (c|0x20) <= 'z'
		if !(alpha || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return ErrInvalidTarget
		}
	}
	// hier-part = "//" authority path-abempty / path-absolute / path-rootless / path-empty.
	// The authority is what a proxy connects to, so it must be well formed:
	// [ userinfo "@" ] host [ ":" port ], and not empty for http and https (RFC 9110 §4.2).
	rest := target[colon+1:]
	if len(rest) < 2 || rest[0] != '/' || rest[1] != '/' {
		return nil
	}
	auth := rest[2:]
	if end := bytes.IndexAny(auth, "/?#"); end >= 0 {
		auth = auth[:end]
	}
	if at := bytes.LastIndexByte(auth, '@'); at >= 0 {
		for _, c := range auth[:at] {
			if !hostChar[c] || c == '[' || c == ']' {
				return ErrInvalidTarget // userinfo: unreserved / pct-encoded / sub-delims / ":"
			}
		}
		auth = auth[at+1:]
	}
	if !validHost(auth) {
		return ErrInvalidTarget
	}
	if len(auth) == 0 || auth[0] == ':' {
		if EqualFold(target[:colon], "http") || EqualFold(target[:colon], "https") {
			return ErrInvalidTarget
		}
	}
	return nil
}

// validAuthority reports whether s is host ":" port (the CONNECT authority-form).
func validAuthority(s []byte) bool {
	colon := bytes.LastIndexByte(s, ':')
	if colon <= 0 || colon == len(s)-1 {
		return false
	}
	return validHost(s)
}

// validHost checks a Host value: uri-host [ ":" port ], with IP literals in brackets.
// An empty value is valid (RFC 9112 §3.2).
func validHost(s []byte) bool {
	if len(s) == 0 {
		return true
	}
	host, port := s, []byte(nil)
	if s[0] == '[' {
		rb := bytes.IndexByte(s, ']')
		if rb < 0 {
			return false
		}
		for _, c := range s[1:rb] {
			if !(hostChar[c] && c != '[' && c != ']') {
				return false
			}
		}
		rest := s[rb+1:]
		if len(rest) > 0 {
			if rest[0] != ':' {
				return false
			}
			port = rest[1:]
		}
		host = nil
	} else if c := bytes.IndexByte(s, ':'); c >= 0 {
		host, port = s[:c], s[c+1:]
	}
	for _, c := range host {
		if !hostChar[c] || c == ':' || c == '[' || c == ']' {
			return false
		}
	}
	if len(port) > 5 {
		return false
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
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
