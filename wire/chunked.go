package wire

import "bytes"

const (
	chunkSize uint8 = iota
	chunkData
	chunkDataCR
	chunkTrailer
	chunkDone
)

// ChunkedDecoder decodes the chunked transfer coding (RFC 9112 §7.1) without doing I/O.
// The caller feeds it buffered bytes with [ChunkedDecoder.Decode] and keeps whatever
// was not consumed for the next call. Chunk extensions are validated and skipped;
// trailer fields are validated like header fields (and refused as soon as a byte makes
// them invalid) and kept in Trailer, copied since the caller's buffer moves on, except
// the fields that may not be trailers (ProhibitedTrailer), which are dropped. The zero
// value is ready to use with default limits.
type ChunkedDecoder struct {
	Limits Limits
	// Trailer holds the trailer fields once [ChunkedDecoder.Done] reports true.
	Trailer Header

	state        uint8
	remaining    int64
	trailerBytes int      // bytes of the complete trailer lines so far
	line         lineScan // the trailer line being scanned
	scanned      int      // how much of it
}

// Reset prepares the decoder for a new body.
func (d *ChunkedDecoder) Reset() {
	d.state, d.remaining, d.trailerBytes = chunkSize, 0, 0
	d.line, d.scanned = lineScan{}, 0
	d.Trailer.Reset()
}

// Done reports whether the last chunk and the trailer section have been consumed.
func (d *ChunkedDecoder) Done() bool { return d.state == chunkDone }

// Decode consumes framing from src until it reaches body data, runs out of input or
// finishes. It returns the number of bytes of src consumed and the body data found
// among them (a sub-slice of src, possibly empty). With consumed < len(src), no data and
// no error, the decoder needs more input than src holds (the rest of a line) or is Done.
func (d *ChunkedDecoder) Decode(src []byte) (consumed int, data []byte, err error) {
	i := 0
	for i < len(src) {
		switch d.state {
		case chunkSize:
			nl := bytes.IndexByte(src[i:], '\n')
			if nl < 0 {
				// No LF yet: the line will be longer than what is here.
				if len(src)-i >= d.Limits.chunkLine() {
					return i, nil, ErrInvalidChunk
				}
				return i, nil, nil
			}
			if nl+1 > d.Limits.chunkLine() {
				return i, nil, ErrInvalidChunk
			}
			line := src[i : i+nl+1]
			size, err := parseChunkLine(line)
			if err != nil {
				return i, nil, err
			}
			i += nl + 1
			if size == 0 {
				d.state = chunkTrailer
			} else {
				d.remaining, d.state = size, chunkData
			}
		case chunkData:
			n := len(src) - i
			if int64(n) > d.remaining {
				n = int(d.remaining)
			}
			d.remaining -= int64(n)
			if d.remaining == 0 {
				d.state = chunkDataCR
			}
			return i + n, src[i : i+n], nil
		case chunkDataCR:
			if src[i] != '\r' {
				return i, nil, ErrInvalidChunk
			}
			if i+1 >= len(src) {
				return i, nil, nil
			}
			if src[i+1] != '\n' {
				return i, nil, ErrInvalidChunk
			}
			i += 2
			d.state = chunkSize
		case chunkTrailer:
			// Trailer lines are scanned like header field lines (scan.go), resuming
			// where the last call stopped: src[i:] starts at the current line.
			if d.line.state == lsLineStart {
				d.line.startScan(lsName)
			}
			room := d.Limits.trailerBytes() - d.trailerBytes
			stop := min(len(src), i+room)
			n, err := d.line.fieldLine(src[i:stop], d.scanned)
			if err != nil {
				return i, nil, err
			}
			if n < 0 {
				d.scanned = stop - i
				if stop-i == room {
					return i, nil, ErrTrailerTooLarge
				}
				return i, nil, nil
			}
			line := src[i : i+n]
			d.trailerBytes += n
			i += n
			colon := d.line.colon
			d.line, d.scanned = lineScan{}, 0
			if n == 2 {
				d.state = chunkDone
				return i, nil, nil
			}
			if err := d.trailerField(line, colon); err != nil {
				return i, nil, err
			}
		case chunkDone:
			return i, nil, nil
		}
	}
	return i, nil, nil
}

// trailerField keeps a copy of a complete trailer field line (CRLF included) whose
// colon is at colon, unless its name may not be a trailer (ProhibitedTrailer): such a
// field is dropped, so that nothing can merge it into the header section.
func (d *ChunkedDecoder) trailerField(line []byte, colon int) error {
	if d.Trailer.Len() >= d.Limits.headerFields() {
		return ErrTooManyFields
	}
	name := line[:colon]
	if ProhibitedTrailer(name) {
		return nil
	}
	vs, ve := fieldValue(line, colon)
	Add(&d.Trailer, name, line[vs:ve])
	return nil
}

// parseChunkLine parses chunk-size [ chunk-ext ] CRLF and returns the size.
func parseChunkLine(line []byte) (int64, error) {
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return 0, ErrBareLF
	}
	line = line[:len(line)-2]
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			goto ext
		}
		if size > (1<<63-1)>>4 {
			return 0, ErrChunkTooLarge
		}
		size = size<<4 | int64(v)
	}
ext:
	if i == 0 {
		return 0, ErrInvalidChunk
	}
	if err := checkChunkExt(line[i:]); err != nil {
		return 0, err
	}
	return size, nil
}

// checkChunkExt validates *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) with
// ext-val = token / quoted-string. BWS is allowed only where more follows: whitespace
// at the end of the line is an error.
func checkChunkExt(b []byte) error {
	skipWS := func() {
		for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
			b = b[1:]
		}
	}
	token := func() bool {
		n := 0
		for n < len(b) && tokenChar[b[n]] {
			n++
		}
		b = b[n:]
		return n > 0
	}
	for len(b) > 0 {
		skipWS()
		if len(b) == 0 || b[0] != ';' {
			return ErrInvalidChunk // trailing whitespace, or something other than ";"
		}
		b = b[1:]
		skipWS()
		if !token() {
			return ErrInvalidChunk
		}
		n := len(b)
		skipWS()
		if len(b) == 0 {
			if len(b) != n {
				return ErrInvalidChunk // trailing whitespace
			}
			return nil
		}
		if b[0] != '=' {
			continue
		}
		b = b[1:]
		skipWS()
		if len(b) > 0 && b[0] == '"' {
			if !skipQuoted(&b) {
				return ErrInvalidChunk
			}
		} else if !token() {
			return ErrInvalidChunk
		}
	}
	return nil
}

// skipQuoted consumes a quoted-string (RFC 9110 §5.6.4) at the start of *b.
func skipQuoted(b *[]byte) bool {
	s := (*b)[1:]
	for len(s) > 0 {
		c := s[0]
		s = s[1:]
		switch {
		case c == '"':
			*b = s
			return true
		case c == '\\':
			if len(s) == 0 || !valueChar[s[0]] {
				return false
			}
			s = s[1:]
		case !valueChar[c]:
			return false
		}
	}
	return false
}

// ProhibitedTrailer reports whether a field named name may not be sent in a trailer
// section, and so must never be taken from one (RFC 9110 §6.5.1): the fields that frame
// the message (Content-Length, Transfer-Encoding, Trailer), route it (Host), manage the
// connection (Connection, Keep-Alive, Proxy-Connection, TE, Upgrade), authenticate
// (Authorization, Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate, Cookie,
// Set-Cookie), modify the request (Expect, Max-Forwards, Range, If-Match,
// If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range), control the
// response or caching (Cache-Control, Pragma, Age, Expires, Date, Location, Retry-After,
// Vary) or describe the content (Content-Encoding, Content-Type, Content-Range). The
// ChunkedDecoder drops them; a sender must not send them as trailers.
func ProhibitedTrailer[S ~string | ~[]byte](name S) bool {
	var buf [20]byte
	if len(name) > len(buf) {
		return false // longer than any name in the list
	}
	for i := 0; i < len(name); i++ {
		buf[i] = lower(name[i])
	}
	_, ok := prohibitedTrailers[string(buf[:len(name)])]
	return ok
}

var prohibitedTrailers = map[string]struct{}{
	"content-length": {}, "transfer-encoding": {}, "trailer": {},
	"host":       {},
	"connection": {}, "keep-alive": {}, "proxy-connection": {}, "te": {}, "upgrade": {},
	"authorization": {}, "proxy-authorization": {}, "www-authenticate": {},
	"proxy-authenticate": {}, "cookie": {}, "set-cookie": {},
	"expect": {}, "max-forwards": {}, "range": {}, "if-match": {}, "if-none-match": {},
	"if-modified-since": {}, "if-unmodified-since": {}, "if-range": {},
	"cache-control": {}, "pragma": {}, "age": {}, "expires": {}, "date": {},
	"location": {}, "retry-after": {}, "vary": {},
	"content-encoding": {}, "content-type": {}, "content-range": {},
}
