// Package httpcond owns the request preconditions and byte ranges of RFC 9110 §13
// and §14 as a server evaluates them against a selected representation: entity-tag
// lists, If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since in the
// order of §13.2.2, If-Range, and Range parsing. The file server and the cache, which
// answers conditional and range requests from stored responses, share it.
package httpcond

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hop-http/hop/internal/httpdate"
	"github.com/hop-http/hop/wire"
)

// Preconditions evaluates the conditional fields of a request header h against the selected
// representation's entity tag and modification time in the order of RFC 9110 §13.2.2.
// It returns 0 to proceed, 304 (Not Modified) or 412 (Precondition Failed). A zero mod
// means the representation has no modification date, so date conditions are ignored.
// It is meant for GET and HEAD, so a matching If-None-Match is always a 304, never the
// 412 of other methods.
func Preconditions(h *wire.Header, etag []byte, mod time.Time) int {
	mod = mod.Truncate(time.Second)
	// Step 1 and 2: If-Match, else If-Unmodified-Since.
	if h.Has("If-Match") {
		if !MatchList(h, "If-Match", etag, true) {
			return 412
		}
	} else if v := SingleValue(h, "If-Unmodified-Since"); v != nil && !mod.IsZero() {
		if t, ok := httpdate.Parse(v); ok && mod.After(t) {
			return 412
		}
	}
	// Step 3 and 4: If-None-Match, else If-Modified-Since (GET and HEAD only).
	if h.Has("If-None-Match") {
		if MatchList(h, "If-None-Match", etag, false) {
			return 304
		}
	} else if !mod.IsZero() {
		if v := SingleValue(h, "If-Modified-Since"); v != nil {
			if t, ok := httpdate.Parse(v); ok && !mod.After(t) {
				return 304
			}
		}
	}
	return 0
}

// IfRange reports whether a Range request with header h should be honoured: true without If-Range,
// else only when If-Range names the current representation by strong entity tag or by
// its exact Last-Modified date (RFC 9110 §13.1.5).
func IfRange(h *wire.Header, etag []byte, mod time.Time) bool {
	v := SingleValue(h, "If-Range")
	if v == nil {
		return !h.Has("If-Range") // several If-Range fields: ignore the range
	}
	if len(v) > 0 && (v[0] == '"' || bytes.HasPrefix(v, []byte("W/"))) {
		weak, opaque, rest, ok := NextETag(v)
		if !ok || len(wire.TrimOWS(rest)) != 0 {
			return false
		}
		ew, eo, _, _ := NextETag(etag)
		return !weak && !ew && bytes.Equal(opaque, eo)
	}
	t, ok := httpdate.Parse(v)
	return ok && !mod.IsZero() && mod.Truncate(time.Second).Equal(t)
}

// SingleValue returns the value of a field that must occur once, or nil when it is
// absent or repeated.
func SingleValue(h *wire.Header, name string) []byte {
	i := h.Index(name, 0)
	if i < 0 || h.Index(name, i+1) >= 0 {
		return nil
	}
	_, v := h.At(i)
	return v
}

// MatchList reports whether any entity tag listed in the fields named name matches
// etag ("*" matches any current representation). strong selects the strong
// comparison (If-Match), else the weak one (If-None-Match).
func MatchList(h *wire.Header, name string, etag []byte, strong bool) bool {
	ew, eo, _, ok := NextETag(etag)
	if !ok {
		return false
	}
	found := false
	h.Values(name, func(v []byte) {
		for !found {
			v = skipListSep(v)
			if len(v) == 0 {
				return
			}
			if v[0] == '*' {
				found = true
				return
			}
			weak, opaque, rest, ok := NextETag(v)
			if !ok {
				return // malformed: stop reading this field
			}
			v = rest
			if strong && (weak || ew) {
				continue
			}
			found = bytes.Equal(opaque, eo)
		}
	})
	return found
}

func skipListSep(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t' || v[0] == ',') {
		v = v[1:]
	}
	return v
}

// NextETag parses one entity-tag at the start of v: [W/] DQUOTE *etagc DQUOTE. It
// returns whether it is weak, the opaque tag with its quotes, and the rest.
func NextETag(v []byte) (weak bool, opaque, rest []byte, ok bool) {
	if len(v) >= 2 && v[0] == 'W' && v[1] == '/' {
		weak, v = true, v[2:]
	}
	if len(v) < 2 || v[0] != '"' {
		return false, nil, nil, false
	}
	for i := 1; i < len(v); i++ {
		c := v[i]
		if c == '"' {
			return weak, v[:i+1], v[i+1:], true
		}
		if c < 0x21 || c == 0x7f { // etagc is %x21 / %x23-7E / obs-text
			return false, nil, nil, false
		}
	}
	return false, nil, nil, false
}

// Range is a satisfiable range of a representation: length bytes from start.
type Range struct{ Start, Length int64 }

// AppendContentRange appends the Content-Range value "bytes first-last/size".
func (rg Range) AppendContentRange(b []byte, size int64) []byte {
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, rg.Start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, rg.Start+rg.Length-1, 10)
	b = append(b, '/')
	return strconv.AppendInt(b, size, 10)
}

// RangeResult is the outcome of ParseRange.
type RangeResult int

const (
	RangeIgnore        RangeResult = iota // malformed, not bytes, or abusive: send the whole
	RangeOK                               // at least one satisfiable range
	RangeUnsatisfiable                    // valid, but no range overlaps the representation
)

// ParseRange parses a Range field value for a representation of size bytes
// (RFC 9110 §14.1.2). Unsatisfiable ranges in a set are dropped; the others are kept
// in the order asked. A set of more than maxRanges, or whose ranges add up to more than
// the representation (overlaps), is ignored. A position too large for an int64 is
// valid syntax: as a last-pos it means the end of the representation, as a first-pos
// a range past it, as a suffix-length the whole of it.
func ParseRange(v []byte, size int64, maxRanges int) ([]Range, RangeResult) {
	const unit = "bytes="
	if len(v) < len(unit) || !wire.EqualFold(v[:len(unit)], unit) {
		return nil, RangeIgnore
	}
	var out []Range
	var total int64
	specs := 0
	res := RangeOK
	// Empty list elements are allowed, and skipped by ForEachToken.
	wire.ForEachToken(v[len(unit):], func(spec []byte) bool {
		if specs++; specs > maxRanges {
			res = RangeIgnore
			return false
		}
		dash := bytes.IndexByte(spec, '-')
		if dash < 0 {
			res = RangeIgnore
			return false
		}
		first, last := spec[:dash], spec[dash+1:]
		var rg Range
		if len(first) == 0 {
			// suffix-range: the last n bytes
			n, ok := wire.ParseDigits(last)
			if !ok {
				res = RangeIgnore
				return false
			}
			if n == 0 || size == 0 {
				return true // unsatisfiable
			}
			n = min(n, size)
			rg = Range{size - n, n}
		} else {
			a, ok := wire.ParseDigits(first)
			if !ok {
				res = RangeIgnore
				return false
			}
			end := size - 1
			if len(last) > 0 {
				b, ok := wire.ParseDigits(last)
				if !ok || b < a {
					res = RangeIgnore
					return false
				}
				end = min(end, b) // a last-pos past the end means the end
			}
			if a >= size {
				return true // unsatisfiable
			}
			rg = Range{a, end - a + 1}
		}
		total += rg.Length
		out = append(out, rg)
		return true
	})
	switch {
	case res != RangeOK || specs == 0:
		return nil, RangeIgnore
	case len(out) == 0:
		return nil, RangeUnsatisfiable
	case len(out) > 1 && total > size:
		return nil, RangeIgnore
	}
	return out, RangeOK
}

// Multipart is the layout of a multipart/byteranges body (RFC 9110 §14.6) holding
// ranges of a representation: for each range a part head (boundary, Content-Type
// when the representation has one, Content-Range, blank line) followed by those
// bytes, then the closing boundary. Its length is known up front, so the body is
// sent with Content-Length. The file server and the cache both answer several
// ranges with it.
type Multipart struct {
	// Boundary is the random boundary.
	Boundary string
	// Ranges are the ranges, in the order of the parts.
	Ranges []Range
	// Length is the length of the whole body.
	Length int64
	heads  [][]byte
	tail   string
}

// NewMultipart lays out the ranges of a representation of size bytes whose
// Content-Type is ctype ("" for none).
func NewMultipart(ctype string, size int64, ranges []Range) *Multipart {
	var bnd [16]byte
	const hexdig = "0123456789abcdef"
	for i, x := 0, rand.Uint64(); i < len(bnd); i, x = i+1, x>>4 {
		bnd[i] = hexdig[x&15]
	}
	m := &Multipart{Boundary: string(bnd[:]), Ranges: ranges, heads: make([][]byte, len(ranges))}
	for i, rg := range ranges {
		b := make([]byte, 0, 96+len(ctype))
		b = append(b, "\r\n--"...)
		b = append(b, m.Boundary...)
		if ctype != "" {
			b = append(b, "\r\nContent-Type: "...)
			b = append(b, ctype...)
		}
		b = append(b, "\r\nContent-Range: "...)
		b = rg.AppendContentRange(b, size)
		b = append(b, "\r\n\r\n"...)
		m.heads[i] = b
		m.Length += int64(len(b)) + rg.Length
	}
	m.tail = "\r\n--" + m.Boundary + "--\r\n"
	m.Length += int64(len(m.tail))
	return m
}

// ContentType is the Content-Type of the multipart body.
func (m *Multipart) ContentType() string { return "multipart/byteranges; boundary=" + m.Boundary }

// PartHead returns the head of part i, which its range's bytes follow.
func (m *Multipart) PartHead(i int) []byte { return m.heads[i] }

// Tail returns the closing boundary, after the last part.
func (m *Multipart) Tail() string { return m.tail }
