package client

import (
	"net"
	"strings"

	"github.com/hop-http/hop/wire"
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
	r := wire.SplitURI(s)
	if !r.HasScheme {
		if r.HasAuthority {
			return &URLError{in, "missing scheme (want http:// or https://)"}
		}
		return &URLError{in, "not an absolute URL (want http:// or https://)"}
	}
	switch {
	case r.Scheme == "http" || r.Scheme == "https":
		u.Scheme = r.Scheme
	case strings.EqualFold(r.Scheme, "http"):
		u.Scheme = "http"
	case strings.EqualFold(r.Scheme, "https"):
		u.Scheme = "https"
	default:
		return &URLError{in, "unsupported scheme " + quote(r.Scheme) + " (hop fetches http and https)"}
	}
	if !r.HasAuthority {
		return &URLError{in, "missing host (want " + u.Scheme + "://host/...)"}
	}
	if err := u.parseAuthority(r.Authority); err != "" {
		return &URLError{in, err}
	}
	var bad string
	u.Path, bad = encodePart(r.Path, false)
	if bad != "" {
		return &URLError{in, bad + " in path"}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	if r.HasQuery {
		u.RawQuery, bad = encodePart(r.Query, true)
		if bad != "" {
			return &URLError{in, bad + " in query"}
		}
		u.ForceQuery = u.RawQuery == ""
	}
	u.Fragment = r.Fragment
	return nil
}

// parseAuthority parses [ userinfo "@" ] host [ ":" port ] with wire's grammar
// (wire.ParseAuthority), then applies what fetching needs: a host, no percent-encoded
// host name (it could not be resolved), lower case, and an IPv6 zone decoded. It
// returns a reason on failure.
func (u *URL) parseAuthority(a string) string {
	au, err := wire.ParseAuthority(a)
	if err != nil {
		return err.(*wire.AuthorityError).Reason
	}
	u.User = au.UserInfo
	hostpart := au.Host
	switch {
	case hostpart == "":
		return "missing host"
	case hostpart[0] == '[':
		addr, zone := hostpart[1:len(hostpart)-1], ""
		if i := strings.Index(addr, "%25"); i >= 0 {
			addr, zone = addr[:i], addr[i+3:]
		}
		if hasUpper(addr) {
			addr = strings.ToLower(addr)
		}
		u.Host = addr
		if zone != "" {
			u.Host += "%" + zone
		}
		if zone != "" || hostpart[1:len(hostpart)-1] != addr {
			hostpart = "[" + addr + "]" // lower case, and no zone: it is not sent in Host
		}
	default:
		if strings.IndexByte(hostpart, '%') >= 0 {
			return "percent-encoded host names are not supported"
		}
		if hasUpper(hostpart) {
			hostpart = strings.ToLower(hostpart)
		}
		u.Host = hostpart
	}
	u.Port = au.Port
	switch {
	case u.Port == "":
		u.authority = hostpart
	case hostpart == au.Host:
		u.authority = a[len(a)-len(au.Host)-1-len(u.Port):] // zero-copy: the input holds host:port
	default:
		u.authority = hostpart + ":" + u.Port
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
	b := wire.SplitURI(base)
	r := wire.SplitURI(strings.TrimSpace(ref))
	var t wire.URIParts[string]
	switch {
	case r.HasScheme:
		t = r
		t.Path = removeDotSegments(r.Path)
	case r.HasAuthority:
		t = r
		t.Path = removeDotSegments(r.Path)
		t.Scheme, t.HasScheme = b.Scheme, b.HasScheme
	default:
		t.Scheme, t.HasScheme = b.Scheme, b.HasScheme
		t.Authority, t.HasAuthority = b.Authority, b.HasAuthority
		if r.Path == "" {
			t.Path = b.Path
			if r.HasQuery {
				t.Query, t.HasQuery = r.Query, true
			} else {
				t.Query, t.HasQuery = b.Query, b.HasQuery
			}
		} else {
			if r.Path[0] == '/' {
				t.Path = removeDotSegments(r.Path)
			} else {
				t.Path = removeDotSegments(merge(&b, r.Path))
			}
			t.Query, t.HasQuery = r.Query, r.HasQuery
		}
	}
	t.Fragment, t.HasFragment = r.Fragment, r.HasFragment
	return recompose(&t)
}

// recompose joins the components of a URI reference (RFC 3986 §5.3).
func recompose(r *wire.URIParts[string]) string {
	var b strings.Builder
	if r.HasScheme {
		b.WriteString(r.Scheme)
		b.WriteByte(':')
	}
	if r.HasAuthority {
		b.WriteString("//")
		b.WriteString(r.Authority)
	}
	b.WriteString(r.Path)
	if r.HasQuery {
		b.WriteByte('?')
		b.WriteString(r.Query)
	}
	if r.HasFragment {
		b.WriteByte('#')
		b.WriteString(r.Fragment)
	}
	return b.String()
}

// merge implements RFC 3986 §5.2.3.
func merge(base *wire.URIParts[string], ref string) string {
	if base.HasAuthority && base.Path == "" {
		return "/" + ref
	}
	i := strings.LastIndexByte(base.Path, '/')
	if i < 0 {
		return ref
	}
	return base.Path[:i+1] + ref
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
			if i+2 >= len(s) || !wire.IsHexDigit(s[i+1]) || !wire.IsHexDigit(s[i+2]) {
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

// pathChar reports whether c may appear unencoded in a path: pchar or "/".
func pathChar(c byte) bool { return wire.IsPChar(c) || c == '/' }
