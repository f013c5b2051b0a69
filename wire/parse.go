package wire

const (
	stateStart uint8 = iota
	stateFields
)

// Parser is an incremental parser for request and response heads. It is fed the bytes
// buffered so far, starting at the first byte of the message. When the head is
// incomplete it returns [ErrNeedMore] and remembers where it stopped; the next call
// must pass the same bytes (possibly moved to a larger buffer) followed by whatever
// arrived since, and the same *Request or *Response. Each byte is scanned once, as it
// arrives (scan.go): a byte that makes its line invalid whatever follows fails the
// head at once, and the rest of a line is judged when its LF arrives, so the total work
// is linear however the input is split, and the result never depends on the split.
//
// After a complete head or an error the Parser is ready for the next message. The zero
// value uses default [Limits].
type Parser struct {
	Limits Limits

	state       uint8
	skippedCRLF bool
	pos         int // start of the line being scanned
	scan        int // where the scan of that line resumes
	start       int // offset of the start line
	fieldsStart int // offset of the first field line
	line        lineScan

	// start-line spans
	s1Off, s1Len, s2Off, s2Len int
	major, minor               uint8
	status                     int
	target                     Target // the parsed request-target
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
	p.line = lineScan{}
	p.sem = semantics{}
}

// ParseRequest parses a request head from buf. It returns the head length when the head
// is complete, or 0 and ErrNeedMore, or 0 and an *Error. One empty line before the
// request line is tolerated (and counted in the head length). A line that is already
// invalid, or which already exceeds a limit, fails before its LF arrives.
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
		// A line may end no later than the limit of its part of the head: bytes past
		// it are never scanned, so that the same input fails the same way however it
		// was split.
		limit := p.fieldsStart + p.Limits.headerBytes()
		if p.state == stateStart {
			limit = p.start + p.Limits.requestLine()
		}
		stop := min(len(buf), limit)
		n, err := p.scanLine(buf[p.pos:stop], p.scan-p.pos, request)
		if err != nil {
			return 0, err
		}
		if n < 0 {
			p.scan = stop
			if stop == limit {
				return 0, p.tooLong(request)
			}
			return 0, ErrNeedMore
		}
		end := p.pos + n
		switch p.state {
		case stateStart:
			if n == 2 { // the tolerated empty line
				p.skippedCRLF = true
				p.pos, p.scan, p.start = end, end, end
				p.line = lineScan{}
				continue
			}
			var err error
			if request {
				err = p.requestLine(buf[p.pos:end], p.pos)
			} else {
				err = p.statusLine(buf[p.pos:end-2], p.pos)
			}
			if err != nil {
				return 0, err
			}
			p.state = stateFields
			p.fieldsStart = end
		case stateFields:
			if n == 2 {
				return end, nil
			}
			if err := p.fieldLine(buf[p.pos:end], p.pos, h, request); err != nil {
				return 0, err
			}
		}
		p.pos, p.scan = end, end
		p.line = lineScan{}
	}
}

// scanLine scans the current line, b, from offset from (see scan.go).
func (p *Parser) scanLine(b []byte, from int, request bool) (int, error) {
	s := &p.line
	if s.state == lsLineStart {
		switch {
		case p.state == stateFields:
			s.startScan(lsName)
		case request:
			s.startScan(lsMethod)
		default:
			s.startScan(lsStatus)
		}
	}
	switch {
	case p.state == stateFields:
		return s.fieldLine(b, from)
	case request:
		return s.requestLine(b, from, p.mayskipCRLF())
	}
	return s.statusLine(b, from, p.mayskipCRLF())
}

// mayskipCRLF reports whether an empty line here is the one tolerated before the start
// line (RFC 9112 §2.2; applied to status lines too).
func (p *Parser) mayskipCRLF() bool { return !p.skippedCRLF && p.pos == 0 }

// tooLong is the error for a line that reached the limit of its part of the head: 431
// for the header section, 414 for a request line (but 400 while the method is still
// being read: 414 is about targets), 400 for a status line.
func (p *Parser) tooLong(request bool) error {
	switch {
	case p.state == stateFields:
		return ErrHeaderTooLarge
	case !request:
		return ErrStatusLineTooLong
	case p.line.state == lsMethod || p.line.state == lsCR && p.line.crFrom == lsMethod:
		return ErrMethodTooLong
	}
	return ErrRequestLineTooLong
}
