package wire

import "encoding/binary"

// Character classes of RFC 9110 §5.6.2 and RFC 3986, as lookup tables.
var (
	tokenChar  [256]bool // tchar
	valueChar  [256]bool // field-vchar / SP / HTAB (obs-text allowed)
	targetChar [256]bool // visible ASCII: what a request-target may contain
	hostChar   [256]bool // reg-name, IP literals and port
)

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			tokenChar[c] = true
		}
		valueChar[c] = c == '\t' || (c >= 0x20 && c != 0x7f)
		targetChar[c] = c > 0x20 && c < 0x7f
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tokenChar[c] = true
	}
	for c := 0; c < 256; c++ {
		hostChar[c] = tokenChar[c] && c != '#' && c != '^' && c != '`' && c != '|'
	}
	for _, c := range "()+,;=:[]" {
		hostChar[c] = true
	}
}

// lower maps ASCII letters to lower case.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether a and b are equal under ASCII case folding.
func EqualFold[S1, S2 ~string | ~[]byte](a S1, b S2) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// IsToken reports whether s is a non-empty RFC 9110 token.
func IsToken[S ~string | ~[]byte](s S) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

// trimOWS removes optional whitespace (SP / HTAB) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextListElem splits a comma-separated list: it returns the first element (OWS trimmed)
// and the rest after the comma. Empty elements are returned as empty.
func nextListElem(b []byte) (elem, rest []byte) {
	for i := 0; i < len(b); i++ {
		if b[i] == ',' {
			return trimOWS(b[:i]), b[i+1:]
		}
	}
	return trimOWS(b), nil
}

// ForEachToken calls fn for each non-empty element of a comma-separated field value,
// with surrounding whitespace removed. It stops early when fn returns false.
func ForEachToken(v []byte, fn func(tok []byte) bool) {
	for len(v) > 0 {
		var e []byte
		e, v = nextListElem(v)
		if len(e) > 0 && !fn(e) {
			return
		}
	}
}

// validValueBytes reports whether every byte of b is a field-vchar, SP or HTAB (obs-text
// allowed): what valueChar says, eight bytes at a time. A word is checked bytewise only
// when it holds a byte below 0x20 or a DEL, i.e. an HTAB or an invalid byte.
func validValueBytes(b []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		ctl := (w - ones*0x20) &^ w & highs // some byte < 0x20
		x := w ^ (ones * 0x7f)
		del := (x - ones) &^ x & highs // some byte == 0x7f
		if ctl|del != 0 {
			for _, c := range b[:8] {
				if !valueChar[c] {
					return false
				}
			}
		}
		b = b[8:]
	}
	for _, c := range b {
		if !valueChar[c] {
			return false
		}
	}
	return true
}
