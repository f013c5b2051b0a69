package client

import (
	"net"
	"net/netip"
	"strings"
)

// URL is a parsed absolute http or https URL (RFC 3986), reduced to what a request
// needs. Parsing a URL that is already in canonical form (lower-case scheme and host,
// valid percent-encoding) allocates nothing: the fields are substrings of the input.
type URL struct {
	Scheme string // "http" or "https"
	// User is the userinfo as written (still percent-encoded), without the "@";
	// empty when absent. Only proxy URLs use it (for Proxy-Authorization).
	User string
	// Host is the host: a lower-case registered name, an IPv4 address, or an IPv6
	// address without brackets (with its zone, decoded from "%25", if any).
	Host string
	// Port is the port as written, "" when absent or empty; see [URL.EffectivePort].
	Port string
	// Path is the percent-encoded path; "/" when the URL has none.
	Path string
	// RawQuery is the query without the "?", percent-encoded.
	RawQuery string
	// ForceQuery records a "?" with an empty query, so that it is sent.
	ForceQuery bool
	// Fragment is the fragment without the "#"; it is never sent.
	Fragment string

	// authority is host[:port] as sent in the Host field (brackets around IPv6, no
	// zone, no userinfo).
	authority string
}

// URLError describes a URL that cannot be fetched, and why.
type URLError struct {
	URL    string // the input
	Reason string // what is wrong, in words
}

// Error says what cannot be fetched and why.
func (e *URLError) Error() string {
	return "hop/client: cannot fetch " + quote(e.URL) + ": " + e.Reason
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return "\"" + s + "\""
}

// ParseURL parses an absolute http or https URL. It returns a *[URLError] that says
// what is wrong for anything else: another scheme, a relative reference, a missing or
// invalid host or port, malformed percent-encoding. Characters that may not appear in
// a URL (space, controls, non-ASCII, and "<>\"\\^`{|}") are percent-encoded in the path
// and query, as browsers do.
func ParseURL(s string) (URL, error) {
	var u URL
	err := u.parse(s)
	return u, err
}

// Set parses s into u (see [ParseURL]), reusing u.
func (u *URL) Set(s string) error { return u.parse(s) }

func (u *URL) parse(s string) error {
	*u = URL{}
	in := s
	s = strings.TrimSpace(s)
	r := splitRef(s)
	if !r.hasScheme {
		if r.hasAuthority {
			return &URLError{in, "missing scheme (want http:// or https://)"}
		}
		return &URLError{in, "not an absolute URL (want http:// or https://)"}
	}
	switch {
	case r.scheme == "http" || r.scheme == "https":
		u.Scheme = r.scheme
	case strings.EqualFold(r.scheme, "http"):
		u.Scheme = "http"
	case strings.EqualFold(r.scheme, "https"):
		u.Scheme = "https"
	default:
		return &URLError{in, "unsupported scheme " + quote(r.scheme) + " (hop fetches http and https)"}
	}
	if !r.hasAuthority {
		return &URLError{in, "missing host (want " + u.Scheme + "://host/...)"}
	}
	if err := u.parseAuthority(r.authority); err != "" {
		return &URLError{in, err}
	}
	var bad string
	u.Path, bad = encodePart(r.path, false)
	if bad != "" {
		return &URLError{in, bad + " in path"}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	if r.hasQuery {
		u.RawQuery, bad = encodePart(r.query, true)
		if bad != "" {
			return &URLError{in, bad + " in query"}
		}
		u.ForceQuery = u.RawQuery == ""
	}
	u.Fragment = r.fragment
	return nil
}

// parseAuthority parses [ userinfo "@" ] host [ ":" port ]. It returns a reason on
// failure.
func (u *URL) parseAuthority(a string) string {
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		u.User = a[:at]
		for i := 0; i < len(u.User); i++ {
			if !userinfoChar(u.User[i]) {
				return "invalid character in userinfo"
			}
		}
		a = a[at+1:]
	}
	if a == "" {
		return "missing host"
	}
	hostpart, port := a, ""
	if a[0] == '[' {
		rb := strings.IndexByte(a, ']')
		if rb < 0 {
			return "unterminated IPv6 literal"
		}
		hostpart = a[:rb+1]
		rest := a[rb+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "unexpected characters after IPv6 literal"
			}
			port = rest[1:]
		}
		lit := a[1:rb]
		if len(lit) > 0 && (lit[0] == 'v' || lit[0] == 'V') {
			return "IPvFuture addresses are not supported"
		}
		addr, zone := lit, ""
		if i := strings.Index(lit, "%25"); i >= 0 {
			addr, zone = lit[:i], lit[i+3:]
			if zone == "" {
				return "empty IPv6 zone"
			}
			for j := 0; j < len(zone); j++ {
				if !unreserved(zone[j]) {
					return "invalid IPv6 zone"
				}
			}
		}
		ip, err := netip.ParseAddr(addr)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "invalid IPv6 address " + quote(lit)
		}
		if zone != "" {
			u.Host = addr + "%" + zone
			hostpart = "[" + addr + "]"
		} else {
			u.Host = addr
			if hasUpper(addr) {
				u.Host = strings.ToLower(addr)
				hostpart = "[" + u.Host + "]"
			}
		}
	} else {
		if c := strings.IndexByte(a, ':'); c >= 0 {
			hostpart, port = a[:c], a[c+1:]
		}
		if hostpart == "" {
			return "missing host"
		}
		for i := 0; i < len(hostpart); i++ {
			c := hostpart[i]
			if c == '%' {
				return "percent-encoded host names are not supported"
			}
			if !(unreserved(c) || subDelim(c)) {
				return "invalid character " + quote(hostpart[i:i+1]) + " in host"
			}
		}
		if hasUpper(hostpart) {
			hostpart = strings.ToLower(hostpart)
		}
		u.Host = hostpart
	}
	if port != "" {
		if len(port) > 5 {
			return "invalid port " + quote(port)
		}
		n := 0
		for i := 0; i < len(port); i++ {
			c := port[i]
			if c < '0' || c > '9' {
				return "invalid port " + quote(port)
			}
			n = n*10 + int(c-'0')
		}
		if n == 0 || n > 65535 {
			return "port out of range " + quote(port)
		}
	}
	u.Port = port
	if port == "" {
		u.authority = hostpart
	} else if len(hostpart)+1+len(port) <= len(a) && a[:len(hostpart)] == hostpart && a[len(hostpart)] == ':' {
		u.authority = a // zero-copy: the input already is host:port
	} else {
		u.authority = hostpart + ":" + port
	}
	return ""
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// EffectivePort returns the port, or the scheme's default (80 or 443) when none was
// given.
func (u *URL) EffectivePort() string {
	if u.Port != "" {
		return u.Port
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// Authority returns host[:port] as sent in the Host field.
func (u *URL) Authority() string { return u.authority }

// HostPort returns "host:port" for dialing, with the default port filled in and
// brackets around IPv6 addresses (net.JoinHostPort).
func (u *URL) HostPort() string { return net.JoinHostPort(u.Host, u.EffectivePort()) }

// AppendRequestURI appends the origin-form request target: the path and the query.
func (u *URL) AppendRequestURI(dst []byte) []byte {
	dst = append(dst, u.Path...)
	if u.RawQuery != "" || u.ForceQuery {
		dst = append(dst, '?')
		dst = append(dst, u.RawQuery...)
	}
	return dst
}

// RequestURI returns the origin-form request target.
func (u *URL) RequestURI() string { return string(u.AppendRequestURI(nil)) }

// AppendAbsolute appends the absolute-form target (scheme://authority/path?query, no
// userinfo, no fragment), as sent to an HTTP proxy.
func (u *URL) AppendAbsolute(dst []byte) []byte {
	dst = append(dst, u.Scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, u.authority...)
	return u.AppendRequestURI(dst)
}

// String returns the URL as parsed: scheme, userinfo (password included; see
// [URL.Redacted] for logs), authority, path, query and fragment.
func (u *URL) String() string {
	if u.Scheme == "" {
		return ""
	}
	var b []byte
	b = append(b, u.Scheme...)
	b = append(b, "://"...)
	if u.User != "" {
		b = append(b, u.User...)
		b = append(b, '@')
	}
	b = append(b, u.authority...)
	b = u.AppendRequestURI(b)
	if u.Fragment != "" {
		b = append(b, '#')
		b = append(b, u.Fragment...)
	}
	return string(b)
}

// Redacted is String with the password of the userinfo replaced by "xxxxx".
func (u *URL) Redacted() string {
	if i := strings.IndexByte(u.User, ':'); i >= 0 {
		v := *u
		v.User = u.User[:i] + ":xxxxx"
		return v.String()
	}
	return u.String()
}

// IsTLS reports whether the scheme is https.
func (u *URL) IsTLS() bool { return u.Scheme == "https" }

// Resolve resolves ref, a URI reference such as a Location field value, against u
// (RFC 3986 §5.2) and parses the result. The result must itself be fetchable.
func (u *URL) Resolve(ref string) (URL, error) {
	return ParseURL(ResolveReference(u.String(), ref))
}

// ResolveReference resolves the URI reference ref against the absolute URI base
// following RFC 3986 §5.2 (strict parser), for any scheme. It does not validate
// either string beyond splitting it into components.
func ResolveReference(base, ref string) string {
	b := splitRef(base)
	r := splitRef(strings.TrimSpace(ref))
	var t uriRef
	switch {
	case r.hasScheme:
		t = r
		t.path = removeDotSegments(r.path)
	case r.hasAuthority:
		t = r
		t.path = removeDotSegments(r.path)
		t.scheme, t.hasScheme = b.scheme, b.hasScheme
	default:
		t.scheme, t.hasScheme = b.scheme, b.hasScheme
		t.authority, t.hasAuthority = b.authority, b.hasAuthority
		if r.path == "" {
			t.path = b.path
			if r.hasQuery {
				t.query, t.hasQuery = r.query, true
			} else {
				t.query, t.hasQuery = b.query, b.hasQuery
			}
		} else {
			if r.path[0] == '/' {
				t.path = removeDotSegments(r.path)
			} else {
				t.path = removeDotSegments(merge(&b, r.path))
			}
			t.query, t.hasQuery = r.query, r.hasQuery
		}
	}
	t.fragment, t.hasFragment = r.fragment, r.hasFragment
	return t.String()
}

// uriRef is a URI reference split into its five components (RFC 3986 §3, Appendix B).
type uriRef struct {
	scheme, authority, path, query, fragment       string
	hasScheme, hasAuthority, hasQuery, hasFragment bool
}

// splitRef splits s into components: scheme ":" (when s starts with a valid scheme),
// "//" authority, path, "?" query, "#" fragment.
func splitRef(s string) uriRef {
	var r uriRef
	if i := strings.IndexByte(s, '#'); i >= 0 {
		r.fragment, r.hasFragment = s[i+1:], true
		s = s[:i]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		r.query, r.hasQuery = s[i+1:], true
		s = s[:i]
	}
	if i := schemeEnd(s); i > 0 {
		r.scheme, r.hasScheme = s[:i], true
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "//") {
		s = s[2:]
		end := strings.IndexByte(s, '/')
		if end < 0 {
			end = len(s)
		}
		r.authority, r.hasAuthority = s[:end], true
		s = s[end:]
	}
	r.path = s
	return r
}

// schemeEnd returns the index of the ':' ending a scheme at the start of s, or -1.
func schemeEnd(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return -1
			}
		case c == ':':
			if i == 0 {
				return -1
			}
			return i
		default:
			return -1
		}
	}
	return -1
}

// String recomposes the components (RFC 3986 §5.3).
func (r *uriRef) String() string {
	var b strings.Builder
	if r.hasScheme {
		b.WriteString(r.scheme)
		b.WriteByte(':')
	}
	if r.hasAuthority {
		b.WriteString("//")
		b.WriteString(r.authority)
	}
	b.WriteString(r.path)
	if r.hasQuery {
		b.WriteByte('?')
		b.WriteString(r.query)
	}
	if r.hasFragment {
		b.WriteByte('#')
		b.WriteString(r.fragment)
	}
	return b.String()
}

// merge implements RFC 3986 §5.2.3.
func merge(base *uriRef, ref string) string {
	if base.hasAuthority && base.path == "" {
		return "/" + ref
	}
	i := strings.LastIndexByte(base.path, '/')
	if i < 0 {
		return ref
	}
	return base.path[:i+1] + ref
}

// removeDotSegments implements RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	var out []string // output segments, each starting with "/" except possibly the first
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			start := 0
			if in[0] == '/' {
				start = 1
			}
			end := strings.IndexByte(in[start:], '/')
			if end < 0 {
				end = len(in)
			} else {
				end += start
			}
			out = append(out, in[:end])
			in = in[end:]
		}
	}
	return strings.Join(out, "")
}

// encodePart checks and normalizes a path or query: valid percent-encodings are kept,
// characters that may not appear are percent-encoded. It returns a reason for
// malformed percent-encoding. It allocates only when something needs encoding.
func encodePart(s string, query bool) (string, string) {
	need := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", "malformed percent-encoding " + quote(s[i:min(i+3, len(s))])
			}
			i += 2
			continue
		}
		if !pathChar(c) && !(query && (c == '/' || c == '?')) {
			need = true
		}
	}
	if !need {
		return s, ""
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || pathChar(c) || query && (c == '/' || c == '?') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b), ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func subDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

// pathChar reports whether c may appear unencoded in a path: pchar or "/".
func pathChar(c byte) bool {
	return unreserved(c) || subDelim(c) || c == ':' || c == '@' || c == '/'
}

func userinfoChar(c byte) bool { return unreserved(c) || subDelim(c) || c == ':' || c == '%' }
