package wire

import (
	"encoding/binary"
	"math/bits"
)

// Line scanning: every line of a head (request line, status line, field line, and the
// field lines of a chunked trailer) is validated one byte at a time as its bytes
// arrive, resuming where the last read stopped. A byte that makes the line invalid
// whatever follows is refused at once, without waiting for the LF; the error is the one
// the complete line gets, because the complete line is judged by the same scan. What
// only the whole line can show (a method-only line, the HTTP major version, the
// request-target's form, a field's meaning) is decided when its LF arrives.

// States of the line being scanned.
const (
	lsLineStart uint8 = iota // no byte of the line scanned yet
	lsMethod                 // request line: the method
	lsTarget                 // request line: the request-target
	lsVersion                // request line: the HTTP-version
	lsStatus                 // status line
	lsName                   // field line: the name
	lsValue                  // field line: after the colon
	lsCR                     // a CR was scanned; the line must end with LF now
)

// lineScan is where the scan of one line stands. Offsets are relative to the line's
// first byte, so that a caller may move the line between calls.
type lineScan struct {
	state   uint8
	crFrom  uint8 // the state the CR was scanned in
	target  int   // request line: start of the request-target
	version int   // request line: start of the HTTP-version
	colon   int   // field line: offset of the colon
}

// startScan prepares s for a line whose first state is st.
func (s *lineScan) startScan(st uint8) { *s = lineScan{state: st} }

// requestLine scans b[from:], where b starts at the first byte of a request line. It
// returns the line's length through its LF once complete, -1 when b ends first, or the
// error the line has. emptyOK says whether an empty line is tolerated here; the caller
// recognizes one by its length, 2.
func (s *lineScan) requestLine(b []byte, from int, emptyOK bool) (int, error) {
	i := from
	for i < len(b) {
		switch s.state {
		case lsMethod:
			for i < len(b) && tokenChar[b[i]] {
				i++
			}
			if i == len(b) {
				return -1, nil
			}
			switch b[i] {
			case ' ':
				if i == 0 {
					return 0, ErrInvalidMethod
				}
				s.state, s.target = lsTarget, i+1
			case '\r':
				if i == 0 && !emptyOK {
					return 0, ErrInvalidMethod
				}
				s.state, s.crFrom = lsCR, lsMethod
			case '\n':
				return 0, ErrBareLF
			default:
				return 0, ErrInvalidMethod
			}
			i++
		case lsTarget:
			for i < len(b) && targetChar[b[i]] {
				i++
			}
			if i == len(b) {
				return -1, nil
			}
			switch b[i] {
			case ' ':
				if i == s.target {
					return 0, ErrInvalidTarget // two spaces, or no target
				}
				s.state, s.version = lsVersion, i+1
			case '\r':
				if i == s.target {
					return 0, ErrInvalidTarget
				}
				s.state, s.crFrom = lsCR, lsTarget
			case '\n':
				return 0, ErrBareLF
			default:
				return 0, ErrInvalidTarget // control, non-ASCII or "#"
			}
			i++
		case lsVersion:
			if i == s.version && i+9 <= len(b) && string(b[i:i+5]) == "HTTP/" && b[i+6] == '.' &&
				b[i+5] >= '0' && b[i+5] <= '9' && b[i+7] >= '0' && b[i+7] <= '9' && b[i+8] == '\r' {
				i += 9 // the common case, whole
				s.state, s.crFrom = lsCR, lsVersion
				continue
			}
			c := b[i]
			switch k := i - s.version; {
			case c == '\n':
				return 0, ErrBareLF
			case k == len("HTTP/d.d"):
				if c != '\r' {
					return 0, ErrInvalidVersion
				}
				s.state, s.crFrom = lsCR, lsVersion
			case !versionByte(k, c):
				return 0, ErrInvalidVersion
			}
			i++
		case lsCR:
			if b[i] != '\n' {
				switch s.crFrom {
				case lsMethod:
					return 0, ErrInvalidMethod
				case lsTarget:
					return 0, ErrInvalidTarget
				}
				return 0, ErrInvalidVersion
			}
			switch {
			case s.crFrom == lsMethod && i > 1:
				return 0, ErrInvalidRequestLine // a method alone
			case s.crFrom == lsTarget:
				return 0, ErrHTTP09 // method and target, no version
			}
			return i + 1, nil
		}
	}
	return -1, nil
}

// versionByte reports whether c may be byte k of "HTTP/" DIGIT "." DIGIT.
func versionByte(k int, c byte) bool {
	switch k {
	case 5, 7:
		return c >= '0' && c <= '9'
	case 6:
		return c == '.'
	}
	return c == "HTTP/"[k]
}

// statusLine scans b[from:], where b starts at the first byte of a status line: it must
// start with "HTTP/" and hold nothing but SP, HTAB, visible characters and obs-text;
// statusLine in startline.go parses the complete line. Results as for requestLine.
func (s *lineScan) statusLine(b []byte, from int, emptyOK bool) (int, error) {
	const proto = "HTTP/"
	for i := from; i < len(b); i++ {
		if i >= len(proto) && s.state != lsCR {
			i += valueRun(b[i:])
			if i == len(b) {
				return -1, nil
			}
		}
		c := b[i]
		switch {
		case s.state == lsCR:
			if c != '\n' {
				return 0, ErrInvalidStatusLine
			}
			return i + 1, nil
		case i == 0 && c == '\r':
			if !emptyOK {
				return 0, ErrInvalidStatusLine
			}
			s.state = lsCR
		case i == 0 && c == '\n':
			return 0, ErrBareLF
		case i < len(proto):
			if c != proto[i] {
				return 0, ErrInvalidStatusLine
			}
		case c == '\r':
			s.state = lsCR
		case c == '\n':
			return 0, ErrBareLF
		case !valueChar[c]:
			return 0, ErrInvalidStatusLine
		}
	}
	return -1, nil
}

// fieldLine scans b[from:], where b starts at the first byte of a field line (or of the
// empty line ending the section). Results as for requestLine; the empty line has length
// 2, and a field line's colon is at s.colon.
func (s *lineScan) fieldLine(b []byte, from int) (int, error) {
	if from == 0 && s.state == lsName {
		// The common case, a whole line in b: name, colon, value, CRLF.
		i := 0
		for i < len(b) && tokenChar[b[i]] {
			i++
		}
		if i > 0 && i < len(b) && b[i] == ':' {
			colon := i
			i++
			i += valueRun(b[i:])
			if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
				s.state, s.colon = lsValue, colon
				return i + 2, nil
			}
		}
	}
	i := from
	for i < len(b) {
		switch s.state {
		case lsName:
			for i < len(b) && tokenChar[b[i]] {
				i++
			}
			if i == len(b) {
				return -1, nil
			}
			switch c := b[i]; {
			case c == ':':
				if i == 0 {
					return 0, ErrInvalidFieldName
				}
				s.state, s.colon = lsValue, i
			case c == '\r':
				s.state, s.crFrom = lsCR, lsName
			case c == '\n':
				return 0, ErrBareLF
			case c == ' ' || c == '\t':
				if i == 0 {
					return 0, ErrObsFold
				}
				return 0, ErrSpaceBeforeColon
			default:
				return 0, ErrInvalidFieldName
			}
			i++
		case lsValue:
			i += valueRun(b[i:])
			if i == len(b) {
				return -1, nil
			}
			switch b[i] {
			case '\r':
				s.state, s.crFrom = lsCR, lsValue
			case '\n':
				return 0, ErrBareLF
			default:
				return 0, ErrInvalidFieldValue
			}
			i++
		case lsCR:
			if b[i] != '\n' {
				if s.crFrom == lsValue {
					return 0, ErrInvalidFieldValue
				}
				return 0, ErrInvalidFieldName
			}
			if s.crFrom == lsName && i > 1 {
				return 0, ErrMissingColon
			}
			return i + 1, nil
		}
	}
	return -1, nil
}

// fieldValue returns the value of a complete field line (CRLF included) whose colon is
// at colon, without surrounding OWS, as offsets into line.
func fieldValue(line []byte, colon int) (start, end int) {
	start, end = colon+1, len(line)-2
	for start < end && (line[start] == ' ' || line[start] == '\t') {
		start++
	}
	for end > start && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	return start, end
}

// valueRun returns the length of the longest prefix of b made of field-vchar, SP, HTAB
// and obs-text bytes (what valueChar says), eight bytes at a time: with the high bit
// of each byte masked off, two additions per word flag every byte below 0x20 or equal
// to 0x7f (no carry crosses a byte), and the lowest flagged byte is either the end of
// the run or HTAB or obs-text (0x80-0x9f, 0xff), which the table accepts, and then the
// scan goes on after it.
func valueRun(b []byte) int {
	i := 0
	for i+16 <= len(b) {
		// Two words per round: no flag in either is the common case.
		w := b[i : i+16]
		if valueFlags(binary.LittleEndian.Uint64(w))|valueFlags(binary.LittleEndian.Uint64(w[8:])) != 0 {
			break
		}
		i += 16
	}
	for i+8 <= len(b) {
		flags := valueFlags(binary.LittleEndian.Uint64(b[i : i+8]))
		if flags == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(flags) >> 3
		if !valueChar[b[i]] {
			return i
		}
		i++ // HTAB or obs-text
	}
	for ; i < len(b); i++ {
		if !valueChar[b[i]] {
			return i
		}
	}
	return i
}

// valueFlags sets the high bit of each byte of w (little-endian) that is below 0x20
// or 0x7f once its own high bit is masked off: every byte valueChar refuses, and
// HTAB and some obs-text bytes besides.
func valueFlags(w uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
		lows  = 0x7f7f7f7f7f7f7f7f
	)
	t := w & lows
	return (^(t + ones*0x60) | (t + ones)) & highs
}
