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
