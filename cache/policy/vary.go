package policy

import (
	"slices"

	"github.com/hop-http/hop/wire"
)

// VaryStar reports whether a Vary field of the response header h lists "*", alone or
// in a list (RFC 9110 §12.5.5): such a response never matches a later request (RFC
// 9111 §4.1).
func VaryStar(h *wire.Header) bool {
	star := false
	h.Values("Vary", func(v []byte) {
		wire.ForEachToken(v, func(t []byte) bool {
			star = star || string(t) == "*"
			return !star
		})
	})
	return star
}

// AppendVaryNames appends to dst the field names a response's Vary lists, lower-cased,
// sorted and without duplicates, each followed by a comma: the canonical form stored
// with a variant marker. It appends nothing when the response does not vary. ok is
// false when Vary lists more than MaxVary names (the response is then not stored).
func AppendVaryNames(dst []byte, h *wire.Header) (_ []byte, ok bool) {
	var names [MaxVary][]byte
	n := 0
	ok = true
	h.Values("Vary", func(v []byte) {
		wire.ForEachToken(v, func(t []byte) bool {
			if n == len(names) {
				ok = false
				return false
			}
			if wire.IsToken(t) {
				names[n] = t
				n++
			}
			return true
		})
	})
	if !ok {
		return dst, false
	}
	list := names[:n]
	slices.SortFunc(list, compareFold)
	for i, name := range list {
		if i > 0 && wire.EqualFold(name, list[i-1]) {
			continue
		}
		for _, c := range name {
			dst = append(dst, lowerByte(c))
		}
		dst = append(dst, ',')
	}
	return dst, true
}

// MaxVary is the most field names a stored response's Vary may list.
const MaxVary = 32

// AppendSecondaryKey appends to dst the secondary cache key (RFC 9111 §4.1) of a
// request with header reqH for a response varying on names (the form
// AppendVaryNames makes): for each name, the name, then a marker for "absent" or the
// normalised value. Values are normalised by combining the request's field lines into
// one list and removing the whitespace around its elements, so that "a, b", "a,b"
// and two lines "a" and "b" select the same variant.
func AppendSecondaryKey(dst []byte, names []byte, reqH *wire.Header) []byte {
	wire.ForEachToken(names, func(name []byte) bool {
		dst = append(dst, name...)
		present := false
		for i := 0; i < reqH.Len(); i++ {
			n, v := reqH.At(i)
			if !wire.EqualFold(n, name) {
				continue
			}
			if !present {
				dst = append(dst, '=')
				present = true
			}
			wire.ForEachToken(v, func(t []byte) bool {
				dst = append(dst, t...)
				dst = append(dst, ',')
				return true
			})
		}
		if !present {
			dst = append(dst, '!') // absent differs from present and empty
		}
		dst = append(dst, 0)
		return true
	})
	return dst
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func compareFold(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := lowerByte(a[i]), lowerByte(b[i])
		if x != y {
			return int(x) - int(y)
		}
	}
	return len(a) - len(b)
}
