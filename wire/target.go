package wire

import (
	"bytes"
	"net/netip"
	"strconv"
)

// This file is hop's one home for URI syntax: request-targets (RFC 9112 §3.2), URI
// references split into components (RFC 3986 §3), authorities with host and port
// (RFC 3986 §3.2), and percent-decoding with an explicit policy. The parser, the
// client's URL type, hop bench and hop serve all use it.

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

// Request-target forms.
const (
	FormOrigin    TargetForm = iota + 1 // absolute-path [ "?" query ], e.g. /a?b
	FormAbsolute                        // absolute-URI, e.g. http://host/a (to proxies)
	FormAuthority                       // host ":" port, for CONNECT only
	FormAsterisk                        // "*", for OPTIONS only
)

func (f TargetForm) String() string {
	switch f {
	case FormOrigin:
		return "origin-form"
	case FormAbsolute:
		return "absolute-form"
	case FormAuthority:
		return "authority-form"
	case FormAsterisk:
		return "asterisk-form"
	}
	return "invalid"
}

// Target is a request-target split into its parts. Byte slices point into the target.
type Target struct {
	Form TargetForm
	// Scheme is the scheme of an absolute-form target, as sent.
	Scheme []byte
	// Authority is the authority of an absolute-form target (absent for a URI without
	// one, such as a URN) or the whole authority-form target.
	Authority    Authority[[]byte]
	HasAuthority bool
	// Path is the percent-encoded path of an origin-form or absolute-form target; it
	// may be empty in absolute-form ("http://host?q").
	Path []byte
	// Query is the query without the "?"; HasQuery tells an empty query from none.
	Query    []byte
	HasQuery bool
}

// ParseTarget parses and validates the request-target of a request with the given
// method (RFC 9112 §3.2): origin-form, absolute-form, authority-form for CONNECT only
// and asterisk-form for OPTIONS only. On top of the grammar it applies hop's rules:
//
//   - no fragment ("#" never belongs to a request-target);
//   - an absolute-form authority has no userinfo (RFC 9110 §4.2.4: its presence is an
//     error) and, for http and https, a host (RFC 9110 §4.2.1); ports are 1–65535;
//   - the path obeys [PathPolicy]: well-formed escapes, no encoded control character,
//     no backslash raw or encoded. The query is left alone: it is the application's.
//
// The target may hold visible ASCII characters but "#". Every error is a 400:
// [ErrInvalidTarget], or the escape error of [PathPolicy].
func ParseTarget(method, target []byte) (Target, error) {
	for _, c := range target {
		if !targetChar[c] {
			return Target{}, ErrInvalidTarget
		}
	}
	var t Target
	if err := parseTarget(method, target, &t); err != nil {
		return Target{}, err
	}
	return t, nil
}

// parseTarget is ParseTarget for a target whose characters were already checked. It
// fills *t, which the caller has zeroed.
func parseTarget(method, target []byte, t *Target) error {
	switch {
	case len(target) == 0:
		return ErrInvalidTarget
	case target[0] == '/':
		if string(method) == "CONNECT" {
			return ErrInvalidTarget
		}
		t.Form = FormOrigin
		// One pass in the common case: up to the query, with nothing an escape check
		// would look at.
		i := 0
		for i < len(target) && !escapeSpecial[target[i]] && target[i] != '?' {
			i++
		}
		t.Path = target
		if i < len(target) && target[i] != '?' {
			i = bytes.IndexByte(target, '?') // an escape (or a byte PathPolicy refuses): checked below
		} else {
			if i < len(target) {
				t.Path, t.Query, t.HasQuery = target[:i], target[i+1:], true
			}
			return nil
		}
		if i >= 0 {
			t.Path, t.Query, t.HasQuery = target[:i], target[i+1:], true
		}
	case string(method) == "CONNECT":
		a, err := ParseAuthority(target)
		if err != nil || a.HasUserInfo || len(a.Host) == 0 || len(a.Port) == 0 {
			return ErrInvalidTarget
		}
		t.Form, t.Authority, t.HasAuthority = FormAuthority, a, true
		return nil
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return ErrInvalidTarget
		}
		t.Form = FormAsterisk
		return nil
	default:
		u := SplitURI(target)
		if !u.HasScheme || u.HasFragment {
			return ErrInvalidTarget
		}
		web := EqualFold(u.Scheme, "http") || EqualFold(u.Scheme, "https")
		if u.HasAuthority {
			a, err := ParseAuthority(u.Authority)
			if err != nil || a.HasUserInfo || web && len(a.Host) == 0 {
				return ErrInvalidTarget
			}
			t.Authority, t.HasAuthority = a, true
		} else if web {
			return ErrInvalidTarget
		}
		t.Form, t.Scheme = FormAbsolute, u.Scheme
		t.Path, t.Query, t.HasQuery = u.Path, u.Query, u.HasQuery
	}
	return checkEscapes(t.Path, PathPolicy)
}

// URIParts is a URI reference split into its five components (RFC 3986 §3, the
// regular expression of its Appendix B with the scheme validated). The components are
// sub-slices of the input, without their delimiters; the Has fields tell an empty
// component from an absent one.
type URIParts[S ~string | ~[]byte] struct {
	Scheme, Authority, Path, Query, Fragment       S
	HasScheme, HasAuthority, HasQuery, HasFragment bool
}

// SplitURI splits s into scheme ":" (only when s starts with a valid scheme), "//"
// authority, path, "?" query and "#" fragment. It validates nothing else.
func SplitURI[S ~string | ~[]byte](s S) URIParts[S] {
	var u URIParts[S]
	for i := 0; i < len(s); i++ {
		if s[i] == '#' {
			u.Fragment, u.HasFragment = s[i+1:], true
			s = s[:i]
			break
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			u.Query, u.HasQuery = s[i+1:], true
			s = s[:i]
			break
		}
	}
	if i := schemeEnd(s); i > 0 {
		u.Scheme, u.HasScheme = s[:i], true
		s = s[i+1:]
	}
	if len(s) >= 2 && s[0] == '/' && s[1] == '/' {
		s = s[2:]
		end := len(s)
		for i := 0; i < len(s); i++ {
			if s[i] == '/' {
				end = i
				break
			}
		}
		u.Authority, u.HasAuthority = s[:end], true
		s = s[end:]
	}
	u.Path = s
	return u
}

// schemeEnd returns the index of the ":" ending a scheme (ALPHA *( ALPHA / DIGIT / "+" /
// "-" / "." )) at the start of s, or -1.
func schemeEnd[S ~string | ~[]byte](s S) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
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

// Authority is an authority component [ userinfo "@" ] host [ ":" port ] split into
// its parts (sub-slices of the input).
type Authority[S ~string | ~[]byte] struct {
	// UserInfo is the userinfo without the "@", still percent-encoded; HasUserInfo
	// tells an empty one from none.
	UserInfo    S
	HasUserInfo bool
	// Host is a registered name or IPv4 address as written, or an IP literal with its
	// brackets ("[::1]"); it may be empty.
	Host S
	// Port is the port's digits, empty when there is none or it is empty ("host:");
	// PortNumber is its value, 0 when empty.
	Port       S
	PortNumber int
}

// AuthorityError says why ParseAuthority refused an authority.
type AuthorityError struct {
	Reason string // what is wrong, in words, e.g. `invalid port "8o"`
}

func (e *AuthorityError) Error() string { return "hop/wire: invalid authority: " + e.Reason }

func authErr(reason string) error { return &AuthorityError{reason} }

func quoted[S ~string | ~[]byte](s S) string { return strconv.Quote(string(s)) }

// ParseAuthority parses and validates [ userinfo "@" ] host [ ":" port ] (RFC 3986
// §3.2). The userinfo holds unreserved characters, sub-delims, ":" and well-formed
// escapes. The host is a registered name or IPv4 address (unreserved characters,
// sub-delims and well-formed escapes; possibly empty) or an IPv6 literal in brackets,
// with an optional zone encoded as "%25" (RFC 6874); IPvFuture literals are refused. A
// port is at most five digits and 1–65535; an empty port ("host:") is allowed, as RFC
// 3986 allows it. Errors are *[AuthorityError]. Success allocates nothing (except for
// an IPv6 literal given as []byte).
func ParseAuthority[S ~string | ~[]byte](s S) (Authority[S], error) {
	var a Authority[S]
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			a.UserInfo, a.HasUserInfo = s[:i], true
			if err := checkURIChars(a.UserInfo, true); err != "" {
				return a, authErr(err + " in userinfo")
			}
			s = s[i+1:]
			break
		}
	}
	host, rest := s, s[len(s):]
	if len(s) > 0 && s[0] == '[' {
		rb := -1
		for i := 1; i < len(s); i++ {
			if s[i] == ']' {
				rb = i
				break
			}
		}
		if rb < 0 {
			return a, authErr("unterminated IPv6 literal")
		}
		host, rest = s[:rb+1], s[rb+1:]
		if len(rest) > 0 && rest[0] != ':' {
			return a, authErr("unexpected characters after IPv6 literal")
		}
		if err := checkIPLiteral(host[1:rb]); err != nil {
			return a, err
		}
	} else {
		for i := 0; i < len(s); i++ {
			if s[i] == ':' {
				host, rest = s[:i], s[i:]
				break
			}
		}
		if err := checkURIChars(host, false); err != "" {
			return a, authErr(err + " in host")
		}
	}
	a.Host = host
	if len(rest) > 0 { // ":" port
		port := rest[1:]
		if len(port) > 5 {
			return a, authErr("invalid port " + quoted(port))
		}
		n := 0
		for i := 0; i < len(port); i++ {
			c := port[i]
			if c < '0' || c > '9' {
				return a, authErr("invalid port " + quoted(port))
			}
			n = n*10 + int(c-'0')
		}
		if len(port) > 0 && (n == 0 || n > 65535) {
			return a, authErr("port out of range " + quoted(port))
		}
		a.Port, a.PortNumber = port, n
	}
	return a, nil
}

// checkURIChars checks a registered name (or, with colon, a userinfo): unreserved
// characters, sub-delims and well-formed escapes. It returns what is wrong, or "".
func checkURIChars[S ~string | ~[]byte](s S, colon bool) string {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case regNameChar[c] || colon && c == ':':
		case c == '%':
			if i+2 >= len(s) || !hexDigit[s[i+1]] || !hexDigit[s[i+2]] {
				return "malformed percent-encoding"
			}
			i += 2
		default:
			if colon {
				return "invalid character"
			}
			return "invalid character " + quoted(s[i:i+1])
		}
	}
	return ""
}

// checkIPLiteral checks what is inside the brackets of an IP literal: an IPv6 address
// with an optional zone "%25" ZoneID (RFC 6874).
func checkIPLiteral[S ~string | ~[]byte](lit S) error {
	if len(lit) > 0 && (lit[0] == 'v' || lit[0] == 'V') {
		return authErr("IPvFuture addresses are not supported")
	}
	addr := lit
	for i := 0; i < len(lit); i++ {
		if lit[i] != '%' {
			continue
		}
		if i+2 >= len(lit) || lit[i+1] != '2' || lit[i+2] != '5' {
			return authErr("invalid IPv6 address " + quoted(lit))
		}
		zone := lit[i+3:]
		if len(zone) == 0 {
			return authErr("empty IPv6 zone")
		}
		for j := 0; j < len(zone); j++ {
			if !unreservedChar[zone[j]] {
				return authErr("invalid IPv6 zone")
			}
		}
		addr = lit[:i]
		break
	}
	ip, err := netip.ParseAddr(string(addr))
	if err != nil || !ip.Is6() || ip.Zone() != "" {
		return authErr("invalid IPv6 address " + quoted(lit))
	}
	return nil
}

// validHostField checks a Host field value: uri-host [ ":" port ] (RFC 9110 §7.2), no
// userinfo, and no comma (a comma means several values were combined into one: a
// repeated Host). An empty value passes; the parser decides where it may be empty. A
// name without escapes and a port take one pass; anything else goes to ParseAuthority.
func validHostField(v []byte) bool {
	i := 0
	for i < len(v) && hostFieldChar[v[i]] {
		i++
	}
	if i < len(v) && v[i] == ':' {
		if port := v[i+1:]; len(port) <= 5 {
			n := 0
			for _, c := range port {
				if c < '0' || c > '9' {
					return false
				}
				n = n*10 + int(c-'0')
			}
			return len(port) == 0 || n >= 1 && n <= 65535
		}
		return false
	}
	if i == len(v) {
		return true
	}
	a, err := ParseAuthority(v)
	return err == nil && !a.HasUserInfo && bytes.IndexByte(a.Host, ',') < 0
}

// EscapePolicy says how percent-encoding (RFC 3986 §2.1) is judged and decoded.
type EscapePolicy struct {
	// Strict makes a "%" not followed by two hex digits an error (ErrInvalidEscape);
	// otherwise it is taken literally.
	Strict bool
	// NoControl makes a control character (0x00–0x1F, 0x7F), raw or encoded as %00–%1F
	// or %7F, an error (ErrControlChar): no path names one, and decoding one invites
	// NUL truncation and CR/LF injection.
	NoControl bool
	// NoBackslash makes a backslash, raw or encoded as %5C, an error (ErrBackslash): it
	// is not a URI character, and some servers and file systems read it as "/".
	NoBackslash bool
	// KeepSlash leaves "%2F" encoded when decoding, so that decoded segments keep their
	// boundaries.
	KeepSlash bool
}

// PathPolicy is the rule for the path of every request-target the parser accepts, and
// the one hop serve decodes paths with: strict escapes, no control characters, no
// backslashes; "%2F" is decoded.
var PathPolicy = EscapePolicy{Strict: true, NoControl: true, NoBackslash: true}

// AppendUnescaped appends s to dst with every escape %XX replaced by its byte, judged
// by policy. On error dst is returned as far as it got.
func AppendUnescaped[S ~string | ~[]byte](dst []byte, s S, policy EscapePolicy) ([]byte, error) {
	return unescape(dst, s, policy, true)
}

// checkEscapes judges s by policy without decoding it.
func checkEscapes[S ~string | ~[]byte](s S, policy EscapePolicy) error {
	_, err := unescape(nil, s, policy, false)
	return err
}

func unescape[S ~string | ~[]byte](dst []byte, s S, pol EscapePolicy, out bool) ([]byte, error) {
	i := 0
	for i < len(s) && !escapeSpecial[s[i]] {
		i++
	}
	if out {
		dst = append(dst, s[:i]...)
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !hexDigit[s[i+1]] || !hexDigit[s[i+2]] {
				if pol.Strict {
					return dst, ErrInvalidEscape
				}
			} else {
				c = unhex(s[i+1])<<4 | unhex(s[i+2])
				if c == '/' && pol.KeepSlash {
					c = '%'
				} else {
					i += 2
				}
			}
		}
		switch {
		case pol.NoControl && (c < 0x20 || c == 0x7f):
			return dst, ErrControlChar
		case pol.NoBackslash && c == '\\':
			return dst, ErrBackslash
		}
		if out {
			dst = append(dst, c)
		}
	}
	return dst, nil
}
