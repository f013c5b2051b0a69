package wire

import "bytes"

// checkTargetForm applies RFC 9112 §3.2: origin-form, absolute-form, authority-form for
// CONNECT only, asterisk-form for OPTIONS only.
func checkTargetForm(method, target []byte) error {
	switch {
	case string(method) == "CONNECT":
		if !validAuthority(target) {
			return ErrInvalidTarget
		}
		return nil
	case target[0] == '/':
		return nil
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return ErrInvalidTarget
		}
		return nil
	}
	// absolute-form: scheme ":" hier-part
	colon := bytes.IndexByte(target, ':')
	if colon <= 0 {
		return ErrInvalidTarget
	}
	for i, c := range target[:colon] {
		alpha := (c|0x20) >= 'a' && (c|0x20) <= 'z'
		if !(alpha || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return ErrInvalidTarget
		}
	}
	// hier-part = "//" authority path-abempty / path-absolute / path-rootless / path-empty.
	// The authority is what a proxy connects to, so it must be well formed:
	// [ userinfo "@" ] host [ ":" port ], and not empty for http and https (RFC 9110 §4.2).
	rest := target[colon+1:]
	if len(rest) < 2 || rest[0] != '/' || rest[1] != '/' {
		return nil
	}
	auth := rest[2:]
	if end := bytes.IndexAny(auth, "/?#"); end >= 0 {
		auth = auth[:end]
	}
	if at := bytes.LastIndexByte(auth, '@'); at >= 0 {
		for _, c := range auth[:at] {
			if !hostChar[c] || c == '[' || c == ']' {
				return ErrInvalidTarget // userinfo: unreserved / pct-encoded / sub-delims / ":"
			}
		}
		auth = auth[at+1:]
	}
	if !validHost(auth) {
		return ErrInvalidTarget
	}
	if len(auth) == 0 || auth[0] == ':' {
		if EqualFold(target[:colon], "http") || EqualFold(target[:colon], "https") {
			return ErrInvalidTarget
		}
	}
	return nil
}

// validAuthority reports whether s is host ":" port (the CONNECT authority-form).
func validAuthority(s []byte) bool {
	colon := bytes.LastIndexByte(s, ':')
	if colon <= 0 || colon == len(s)-1 {
		return false
	}
	return validHost(s)
}

// validHost checks a Host value: uri-host [ ":" port ], with IP literals in brackets.
// An empty value is valid (RFC 9112 §3.2).
func validHost(s []byte) bool {
	if len(s) == 0 {
		return true
	}
	host, port := s, []byte(nil)
	if s[0] == '[' {
		rb := bytes.IndexByte(s, ']')
		if rb < 0 {
			return false
		}
		for _, c := range s[1:rb] {
			if !(hostChar[c] && c != '[' && c != ']') {
				return false
			}
		}
		rest := s[rb+1:]
		if len(rest) > 0 {
			if rest[0] != ':' {
				return false
			}
			port = rest[1:]
		}
		host = nil
	} else if c := bytes.IndexByte(s, ':'); c >= 0 {
		host, port = s[:c], s[c+1:]
	}
	for _, c := range host {
		if !hostChar[c] || c == ':' || c == '[' || c == ']' {
			return false
		}
	}
	if len(port) > 5 {
		return false
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
