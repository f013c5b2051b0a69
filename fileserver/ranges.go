package fileserver

import (
	"bytes"
	"math/rand/v2"
	"strconv"

	"github.com/hop-http/hop/server"
	"github.com/hop-http/hop/wire"
)

// byteRange is a satisfiable range of a representation: length bytes from start.
type byteRange struct{ start, length int64 }

// contentRange appends the Content-Range value "bytes first-last/size".
func (rg byteRange) contentRange(b []byte, size int64) []byte {
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, rg.start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, rg.start+rg.length-1, 10)
	b = append(b, '/')
	return strconv.AppendInt(b, size, 10)
}

type rangeResult int

const (
	rangeIgnore        rangeResult = iota // malformed, not bytes, or abusive: send the whole
	rangeOK                               // at least one satisfiable range
	rangeUnsatisfiable                    // valid, but no range overlaps the representation
)

// parseRange parses a Range field value for a representation of size bytes
// (RFC 9110 §14.1.2). Unsatisfiable ranges in a set are dropped; the others are kept
// in the order asked. A set of more than MaxRanges, or whose ranges add up to more than
// the representation (overlaps), is ignored. A position too large for an int64 is
// valid syntax: as a last-pos it means the end of the representation, as a first-pos
// a range past it, as a suffix-length the whole of it.
func parseRange(v []byte, size int64) ([]byteRange, rangeResult) {
	const unit = "bytes="
	if len(v) < len(unit) || !wire.EqualFold(v[:len(unit)], unit) {
		return nil, rangeIgnore
	}
	var out []byteRange
	var total int64
	specs := 0
	res := rangeOK
	// Empty list elements are allowed, and skipped by ForEachToken.
	wire.ForEachToken(v[len(unit):], func(spec []byte) bool {
		if specs++; specs > MaxRanges {
			res = rangeIgnore
			return false
		}
		dash := bytes.IndexByte(spec, '-')
		if dash < 0 {
			res = rangeIgnore
			return false
		}
		first, last := spec[:dash], spec[dash+1:]
		var rg byteRange
		if len(first) == 0 {
			// suffix-range: the last n bytes
			n, ok := wire.ParseDigits(last)
			if !ok {
				res = rangeIgnore
				return false
			}
			if n == 0 || size == 0 {
				return true // unsatisfiable
			}
			n = min(n, size)
			rg = byteRange{size - n, n}
		} else {
			a, ok := wire.ParseDigits(first)
			if !ok {
				res = rangeIgnore
				return false
			}
			end := size - 1
			if len(last) > 0 {
				b, ok := wire.ParseDigits(last)
				if !ok || b < a {
					res = rangeIgnore
					return false
				}
				end = min(end, b) // a last-pos past the end means the end
			}
			if a >= size {
				return true // unsatisfiable
			}
			rg = byteRange{a, end - a + 1}
		}
		total += rg.length
		out = append(out, rg)
		return true
	})
	switch {
	case res != rangeOK || specs == 0:
		return nil, rangeIgnore
	case len(out) == 0:
		return nil, rangeUnsatisfiable
	case len(out) > 1 && total > size:
		return nil, rangeIgnore
	}
	return out, rangeOK
}

// sendMultipart answers 206 with a multipart/byteranges body holding each range of f
// (RFC 9110 §14.6). The length is computed up front, so the body is sent with
// Content-Length.
func sendMultipart(w *server.ResponseWriter, f *file, size int64, ctype string, ranges []byteRange) {
	var bnd [16]byte
	const hexdig = "0123456789abcdef"
	for i, x := 0, rand.Uint64(); i < len(bnd); i, x = i+1, x>>4 {
		bnd[i] = hexdig[x&15]
	}
	boundary := string(bnd[:])
	heads := make([][]byte, len(ranges))
	var length int64
	for i, rg := range ranges {
		b := make([]byte, 0, 96+len(ctype))
		b = append(b, "\r\n--"...)
		b = append(b, boundary...)
		b = append(b, "\r\nContent-Type: "...)
		b = append(b, ctype...)
		b = append(b, "\r\nContent-Range: "...)
		b = rg.contentRange(b, size)
		b = append(b, "\r\n\r\n"...)
		heads[i] = b
		length += int64(len(b)) + rg.length
	}
	tail := "\r\n--" + boundary + "--\r\n"
	length += int64(len(tail))

	hd := w.Header()
	hd.Set("Content-Type", "multipart/byteranges; boundary="+boundary)
	w.WriteHeader(206)
	w.SetContentLength(length)
	for i, rg := range ranges {
		if _, err := w.Write(heads[i]); err != nil {
			return
		}
		if err := sendSection(w, f, rg.start, rg.length); err != nil {
			return
		}
	}
	w.WriteString(tail)
}
