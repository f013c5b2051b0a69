package wire

// Character classes of RFC 9110 §5.6.2 and RFC 3986, as lookup tables.
var (
	tokenChar      [256]bool // tchar
	valueChar      [256]bool // field-vchar / SP / HTAB (obs-text allowed)
	targetChar     [256]bool // what a request-target may hold: visible ASCII but "#"
	unreservedChar [256]bool // ALPHA / DIGIT / "-" / "." / "_" / "~"
	subDelimChar   [256]bool // "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
	regNameChar    [256]bool // unreserved / sub-delims: a registered name without escapes
	hostFieldChar  [256]bool // regNameChar but ",": a Host field's name without escapes
	hexDigit       [256]bool // HEXDIG, either case
	escapeSpecial  [256]bool // what a decoder must look at: "%", "\\", controls
)

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			tokenChar[c] = true
		}
		valueChar[c] = c == '\t' || (c >= 0x20 && c != 0x7f)
		// A fragment is never part of a request-target (RFC 9112 §3.2).
		targetChar[c] = c > 0x20 && c < 0x7f && c != '#'
		hexDigit[c] = c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tokenChar[c] = true
	}
	for c := 0; c < 256; c++ {
		unreservedChar[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
	}
	for _, c := range "!$&'()*+,;=" {
		subDelimChar[c] = true
	}
	for c := 0; c < 256; c++ {
		regNameChar[c] = unreservedChar[c] || subDelimChar[c]
		hostFieldChar[c] = regNameChar[c] && c != ','
		escapeSpecial[c] = c == '%' || c == '\\' || c < 0x20 || c == 0x7f
	}
}

// IsHexDigit reports whether c is a hexadecimal digit (RFC 5234 HEXDIG, either case).
func IsHexDigit(c byte) bool { return hexDigit[c] }

// unhex is the value of the hex digit c.
func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// IsUnreserved reports whether c is an RFC 3986 unreserved character: it never needs
// percent-encoding.
func IsUnreserved(c byte) bool { return unreservedChar[c] }

// IsSubDelim reports whether c is an RFC 3986 sub-delim.
func IsSubDelim(c byte) bool { return subDelimChar[c] }

// IsPChar reports whether c may appear unencoded in a path segment (RFC 3986 pchar,
// without its pct-encoded alternative): unreserved, sub-delims, ":" or "@".
func IsPChar(c byte) bool { return unreservedChar[c] || subDelimChar[c] || c == ':' || c == '@' }

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

// TrimOWS removes optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends of b.
func TrimOWS(b []byte) []byte {
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
			return TrimOWS(b[:i]), b[i+1:]
		}
	}
	return TrimOWS(b), nil
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
